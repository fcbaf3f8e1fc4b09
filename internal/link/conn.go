package link

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

// Config sets the limits of one connection. Zero fields take the defaults
// noted beside them.
type Config struct {
	MaxLength    uint32        // largest command_length read; default pdu.DefaultMaxLength
	MaxQueued    int           // octets queued for writing before ErrQueueFull; default 1 MiB
	WriteTimeout time.Duration // one flush; default 10s
	EnquireLink  time.Duration // send enquire_link after this long without reading; 0 disables
	DeadAfter    time.Duration // close after this long without reading; 0 disables
	Tick         time.Duration // how often Ticker.Tick runs; default 1s
}

func (cfg *Config) defaults() {
	if cfg.MaxLength == 0 {
		cfg.MaxLength = pdu.DefaultMaxLength
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = 1 << 20
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
// windows). Tick runs on the write loop's goroutine every Config.Tick.
type Ticker interface {
	Tick(c *Conn, now time.Time)
}

// Conn is one SMPP connection. Create it with New, run it with Serve; any
// goroutine may call Send, NextSeq and Close.
type Conn struct {
	nc  net.Conn
	cfg Config

	seq      atomic.Uint32
	lastRead atomic.Int64 // unix nanos of the last frame read
	pinged   atomic.Bool  // an enquire_link of ours is unanswered

	mu       sync.Mutex // guards out, closing, closed
	out      []byte     // frames waiting for the write loop
	closing  bool       // flush what is queued, then close
	cause    error      // Serve's result once closing has flushed
	closed   bool
	wake     chan struct{}
	stop     context.CancelCauseFunc
	stopOnce sync.Once
	done     chan struct{} // closed when Serve returns
	readDone chan struct{} // closed when the read loop returns
}

// New wraps nc. Nothing runs until Serve.
func New(nc net.Conn, cfg Config) *Conn {
	cfg.defaults()
	c := &Conn{nc: nc, cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{}), readDone: make(chan struct{})}
	c.lastRead.Store(time.Now().UnixNano())
	return c
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// NetConn returns the underlying connection, for read deadlines.
func (c *Conn) NetConn() net.Conn { return c.nc }

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

// Send queues a copy of frame for the write loop and returns at once. It
// returns ErrClosed after Close, and ErrQueueFull, closing the connection,
// when the peer does not read fast enough.
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
	c.out = append(c.out, frame...)
	c.mu.Unlock()
	c.signal()
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
	}
	c.mu.Unlock()
	c.signal()
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close ends the connection with cause; Serve returns it. Safe to call more
// than once and from any goroutine.
func (c *Conn) Close(cause error) {
	c.mu.Lock()
	c.closed = true
	stop := c.stop
	c.mu.Unlock()
	c.stopOnce.Do(func() {
		if stop != nil {
			stop(cause)
		}
		_ = c.nc.Close()
	})
}

// Serve runs the read and write loops until the connection ends, and
// returns why. It closes the connection before it returns.
func (c *Conn) Serve(ctx context.Context, h Handler) error {
	ctx, cancel := context.WithCancelCause(ctx)
	c.mu.Lock()
	c.stop = cancel
	closed := c.closed
	c.mu.Unlock()
	if closed {
		cancel(ErrClosed)
	}
	defer close(c.done)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(c.readDone)
		cancel(c.readLoop(h))
	})
	wg.Go(func() { cancel(c.writeLoop(ctx, h)) })
	<-ctx.Done()
	c.Close(context.Cause(ctx))
	wg.Wait()
	return context.Cause(ctx)
}

func (c *Conn) readLoop(h Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	br := bufio.NewReaderSize(c.nc, 4096)
	var buf []byte
	var resp [pdu.HeaderLen]byte
	for {
		frame, err := pdu.ReadFrame(br, buf, c.cfg.MaxLength)
		if err != nil {
			var le *pdu.LengthError
			if errors.As(err, &le) {
				// The stream is out of step: answer generic_nack
				// ESME_RINVCMDLEN with the peer's sequence number, let
				// the writer flush it, then close (SMPP 3.4 §3.3).
				c.SendAndClose(pdu.AppendHeaderOnly(resp[:0], pdu.CmdGenericNack, pdu.StatusInvCmdLen, le.Header.Seq), err)
				_, _ = io.Copy(io.Discard, br) // until the writer's read deadline
			}
			if cause := c.closingCause(); cause != nil {
				return cause // the read ended because we are closing
			}
			return err
		}
		c.lastRead.Store(time.Now().UnixNano())
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
		// Keep one buffer for ordinary frames; let a rare huge one go.
		if cap(frame) <= 16<<10 {
			buf = frame[:0]
		} else {
			buf = nil
		}
	}
}

func (c *Conn) writeLoop(ctx context.Context, h Handler) error {
	ticker, _ := h.(Ticker)
	t := time.NewTicker(c.cfg.Tick)
	defer t.Stop()
	var spare []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if err := c.keepAlive(now); err != nil {
				return err
			}
			if ticker != nil {
				ticker.Tick(c, now)
			}
			continue
		case <-c.wake:
			// Let the goroutines that are about to queue more frames do
			// so first: one write then carries many PDUs, which halves
			// the syscalls per message under load.
			runtime.Gosched()
		}
		c.mu.Lock()
		buf, closing, cause := c.out, c.closing, c.cause
		c.out = spare[:0]
		c.mu.Unlock()
		if len(buf) > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
			if _, err := c.nc.Write(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return ErrWriteTimeout
				}
				return err
			}
		}
		if closing {
			c.lingerClose()
			return cause
		}
		if cap(buf) <= 64<<10 {
			spare = buf[:0]
		} else {
			spare = nil
		}
	}
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
	select {
	case <-c.readDone:
	case <-time.After(lingerTime):
	}
}

// lingerTime bounds lingerClose.
const lingerTime = 500 * time.Millisecond

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
