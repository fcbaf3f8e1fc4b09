package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Errors that end a connection; Serve returns them as its cause.
var (
	ErrQueueFull    = errors.New("link: outbound queue full (slow consumer)")
	ErrWriteTimeout = errors.New("link: write timed out (slow consumer)")
	ErrDeadPeer     = errors.New("link: peer silent past its enquire_link deadline")
	ErrClosed       = errors.New("link: connection closed")
	ErrDone         = errors.New("link: closed after final flush")
)

// PanicError is returned by Serve when a handler panicked; the connection is
// closed and the rest of the process goes on.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("link: handler panic: %v", e.Value) }

// DefaultMaxQueued is Config.MaxQueued's default: 1 MiB.
const DefaultMaxQueued = 1 << 20

// Config sets the limits of one connection. Zero fields take the defaults
// noted beside them.
type Config struct {
	MaxLength    uint32        // largest command_length read; default pdu.DefaultMaxLength
	MaxQueued    int           // octets queued for writing before ErrQueueFull; default 1 MiB
	WriteTimeout time.Duration // a write blocked this long (3/4 of it at least) ends the connection; default 10s
	EnquireLink  time.Duration // send enquire_link after this long without reading; 0 disables
	DeadAfter    time.Duration // close after this long without reading; 0 disables
	Tick         time.Duration // how often Ticker.Tick runs; default 1s
}

func (cfg *Config) defaults() {
	if cfg.MaxLength == 0 {
		cfg.MaxLength = pdu.DefaultMaxLength
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
}

// Handler receives the frames of a connection. The read loop calls
// HandleFrame once per frame, in order; frame is valid only until it
// returns, and HandleFrame must not block for long (use Conn.Send, which
// never blocks). enquire_link and enquire_link_resp are answered by Conn and
// never reach the Handler. A non-nil error closes the connection and
// becomes Serve's result.
type Handler interface {
	HandleFrame(c *Conn, frame []byte) error
}

// Ticker is implemented by a Handler that needs periodic work (expiring its
// windows). Tick runs every Config.Tick on a timer's goroutine, never two
// at once, and never after Serve has returned; it may run while HandleFrame
// runs.
type Ticker interface {
	Tick(c *Conn, now time.Time)
}

// Conn is one SMPP connection. Create it with New, run it with Serve; any
// goroutine may call Send, NextSeq and Close.
//
// An idle Conn costs one goroutine (the one in Serve, waiting for input)
// and no buffers: the read buffer is taken from a pool when input arrives
// and given back when everything read has been handled, and a flush
// goroutine runs only while frames wait to be written. Keep-alive and
// Ticker work run on a timer.
type Conn struct {
	nc     net.Conn
	cfg    Config
	ticker Ticker // the Handler's Ticker, set by Serve

	seq      atomic.Uint32
	lastRead atomic.Int64 // unix nanos of the last read that brought input
	pinged   atomic.Bool  // an enquire_link of ours is unanswered

	mu      sync.Mutex // guards the fields below
	out     []byte     // frames waiting to be written; a pooled buffer, nil when empty
	writing bool       // a flush goroutine runs
	serving bool       // Serve has started: Send may start a flush goroutine
	closing bool       // flush what is queued, then close
	cause   error      // the cause given to SendAndClose
	closed  bool
	err     error // the first cause given to Close: Serve's result

	closeOnce sync.Once
	flushers  sync.WaitGroup // the flush goroutine, when one runs
	rearmAt   time.Time      // owned by the flush goroutine: when armWriteDeadline moves the deadline again

	tickMu   sync.Mutex // held while a tick runs; orders the ticks with Serve's end
	tick     *time.Timer
	tickStop bool // guarded by tickMu: Serve has ended, ticks do nothing

	done     chan struct{} // closed when Serve returns
	readDone chan struct{} // closed when the read loop returns
}

// New wraps nc. Nothing runs until Serve.
func New(nc net.Conn, cfg Config) *Conn {
	cfg.defaults()
	c := &Conn{nc: nc, cfg: cfg, done: make(chan struct{}), readDone: make(chan struct{})}
	c.lastRead.Store(time.Now().UnixNano())
	return c
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// NetConn returns the underlying connection, for read deadlines.
func (c *Conn) NetConn() net.Conn { return c.nc }

// ReadTime returns when the read that brought the frame being handled
// returned (the last read, outside HandleFrame): a clock reading that
// costs nothing, for the frames of one read.
func (c *Conn) ReadTime() time.Time { return time.Unix(0, c.lastRead.Load()) }

// Done is closed when Serve has returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// NextSeq returns the next sequence number of this connection's own
// requests: 1 to 0x7FFFFFFF, then 1 again.
func (c *Conn) NextSeq() uint32 {
	for {
		old := c.seq.Load()
		next := old + 1
		if next > pdu.MaxSeq {
			next = 1
		}
		if c.seq.CompareAndSwap(old, next) {
			return next
		}
	}
}

// Send queues a copy of frame for writing and returns at once. It returns
// ErrClosed after Close, and ErrQueueFull, closing the connection, when the
// peer does not read fast enough.
func (c *Conn) Send(frame []byte) error {
	c.mu.Lock()
	if c.closed || c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	if len(c.out)+len(frame) > c.cfg.MaxQueued {
		c.mu.Unlock()
		c.Close(ErrQueueFull)
		return ErrQueueFull
	}
	if c.out == nil {
		c.out = getBuf(&writeBufs, len(frame))
	}
	c.out = append(c.out, frame...)
	c.startFlushLocked()
	c.mu.Unlock()
	return nil
}

// SendAndClose queues frame, then closes the connection once everything
// queued has been written: for unbind_resp and refused binds. Serve then
// returns cause, or ErrDone when cause is nil.
func (c *Conn) SendAndClose(frame []byte, cause error) {
	if cause == nil {
		cause = ErrDone
	}
	c.mu.Lock()
	if !c.closed && !c.closing {
		c.out = append(c.out, frame...)
		c.closing = true
		c.cause = cause
		c.startFlushLocked()
	}
	c.mu.Unlock()
}

// startFlushLocked starts the flush goroutine unless one runs or Serve has
// not started (Serve starts it then). c.mu is held.
func (c *Conn) startFlushLocked() {
	if c.writing || !c.serving || c.closed {
		return
	}
	c.writing = true
	c.flushers.Add(1)
	go c.flush()
}

// Close ends the connection with cause; Serve returns the first cause
// given. Safe to call more than once and from any goroutine.
func (c *Conn) Close(cause error) {
	if cause == nil {
		cause = ErrClosed
	}
	c.mu.Lock()
	c.closed = true
	if c.err == nil {
		c.err = cause
	}
	c.mu.Unlock()
	c.closeOnce.Do(func() { _ = c.nc.Close() })
}

// Serve runs the connection until it ends, and returns why. The read loop
// runs on the calling goroutine. Serve closes the connection, and waits
// for the flush goroutine and any running tick, before it returns. When
// ctx ends, the connection is closed with ctx's cause.
func (c *Conn) Serve(ctx context.Context, h Handler) error {
	defer close(c.done)
	c.ticker, _ = h.(Ticker)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.Close(context.Cause(ctx)) })
		defer stop()
	}
	c.tickMu.Lock() // onTick reads c.tick
	c.tick = time.AfterFunc(c.cfg.Tick, c.onTick)
	c.tickMu.Unlock()

	c.mu.Lock()
	c.serving = true
	if len(c.out) > 0 || c.closing {
		c.startFlushLocked()
	}
	c.mu.Unlock()

	err := c.readLoop(h)
	close(c.readDone)
	c.Close(err)

	c.tickMu.Lock()
	c.tickStop = true
	c.tick.Stop()
	c.tickMu.Unlock()
	c.flushers.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	putBuf(&writeBufs, c.out)
	c.out = nil
	return c.err
}

func (c *Conn) readLoop(h Handler) (err error) {
	rd := reader{nc: c.nc, max: c.cfg.MaxLength, lastRead: &c.lastRead}
	rd.raw = rawConnOf(c.nc)
	defer rd.close()
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	var resp [pdu.HeaderLen]byte
	for {
		frame, err := rd.next()
		if err != nil {
			var le *pdu.LengthError
			if errors.As(err, &le) {
				// The stream is out of step: answer generic_nack
				// ESME_RINVCMDLEN with the peer's sequence number, let
				// the writer flush it, then close (SMPP 3.4 §3.3).
				c.SendAndClose(pdu.AppendHeaderOnly(resp[:0], pdu.CmdGenericNack, pdu.StatusInvCmdLen, le.Header.Seq), err)
				rd.discard() // until the writer's read deadline
			}
			if cause := c.closingCause(); cause != nil {
				return cause // the read ended because we are closing
			}
			return err
		}
		c.pinged.Store(false)
		switch pdu.ID(frame) {
		case pdu.CmdEnquireLink:
			_ = c.Send(pdu.AppendHeaderOnly(resp[:0], pdu.CmdEnquireLinkResp, pdu.StatusOK, pdu.Seq(frame)))
		case pdu.CmdEnquireLinkResp:
		default:
			if err := h.HandleFrame(c, frame); err != nil {
				return err
			}
		}
	}
}

// flush writes what Send queued until nothing is left, then ends; Send
// starts it again. Only one runs at a time.
func (c *Conn) flush() {
	defer c.flushers.Done()
	var spare []byte
	defer func() { putBuf(&writeBufs, spare) }()
	for {
		// Let the goroutines that are about to queue more frames do so
		// first: one write then carries many PDUs, which halves the
		// syscalls per message under load.
		runtime.Gosched()
		c.mu.Lock()
		buf, closing, cause := c.out, c.closing, c.cause
		if c.closed || (len(buf) == 0 && !closing) {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.out, spare = spare, nil // c.out owns it now
		c.mu.Unlock()
		if len(buf) > 0 {
			c.armWriteDeadline()
			if _, err := c.nc.Write(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					err = ErrWriteTimeout
				}
				putBuf(&writeBufs, buf)
				c.Close(err)
				c.stopWriting()
				return
			}
		}
		if closing {
			putBuf(&writeBufs, buf)
			c.lingerClose()
			c.Close(cause)
			c.stopWriting()
			return
		}
		spare = buf[:0]
	}
}

// armWriteDeadline gives the next write at least 3/4 of WriteTimeout. It
// moves the connection's deadline (a runtime timer) only once per quarter
// of WriteTimeout, not before every write.
func (c *Conn) armWriteDeadline() {
	now := time.Now()
	if now.Before(c.rearmAt) {
		return
	}
	_ = c.nc.SetWriteDeadline(now.Add(c.cfg.WriteTimeout))
	c.rearmAt = now.Add(c.cfg.WriteTimeout / 4)
}

func (c *Conn) stopWriting() {
	c.mu.Lock()
	c.writing = false
	c.mu.Unlock()
}

// closingCause returns the cause given to SendAndClose, or nil.
func (c *Conn) closingCause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return c.cause
	}
	return nil
}

// lingerClose half-closes the connection after the final write and gives
// the peer a moment to read it, discarding what the peer still sends:
// closing at once with unread input makes the kernel send a reset, which
// can destroy the last reply before the peer reads it (as net/http's
// closeWriteAndWait).
func (c *Conn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	t := time.NewTimer(lingerTime)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
	}
}

// lingerTime bounds lingerClose.
const lingerTime = 500 * time.Millisecond

// onTick runs every Config.Tick on the timer's goroutine: keep-alive, then
// the Handler's Ticker. A panic in Tick closes this connection only.
func (c *Conn) onTick() {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	if c.tickStop {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			c.Close(&PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	now := time.Now()
	if err := c.keepAlive(now); err != nil {
		c.Close(err)
		return
	}
	if c.ticker != nil {
		c.ticker.Tick(c, now)
	}
	c.tick.Reset(c.cfg.Tick)
}

// keepAlive sends enquire_link when the peer has been quiet, and gives up on
// a peer quiet past DeadAfter.
func (c *Conn) keepAlive(now time.Time) error {
	idle := now.Sub(time.Unix(0, c.lastRead.Load()))
	if c.cfg.DeadAfter > 0 && idle > c.cfg.DeadAfter {
		return ErrDeadPeer
	}
	if c.cfg.EnquireLink > 0 && idle >= c.cfg.EnquireLink && !c.pinged.Load() {
		c.pinged.Store(true)
		var b [pdu.HeaderLen]byte
		return ignoreClosed(c.Send(pdu.AppendHeaderOnly(b[:0], pdu.CmdEnquireLink, pdu.StatusOK, c.NextSeq())))
	}
	return nil
}

func ignoreClosed(err error) error {
	if err == ErrClosed {
		return nil
	}
	return err
}
