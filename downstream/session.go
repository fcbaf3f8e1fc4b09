package downstream

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// Session is one client connection, from accept to close. Its methods are
// safe for concurrent use.
type Session struct {
	id     uint64
	srv    *Server
	conn   *link.Conn
	remote net.Addr
	ip     netip.Addr // remote IP, for the per-IP limit

	unboundAt *list.Element // in Server.unbound until bound or closed; guarded by Server.mu
	window    *link.Window[string]

	bound       atomic.Pointer[boundState] // set once, at bind, on the read goroutine
	unbinding   atomic.Bool                // we sent unbind, or answered the client's with deliver_sm outstanding; set under mu
	peerUnbound atomic.Bool                // the client unbound: close when the window empties; set under mu

	mu       sync.Mutex // guards closed, unbindBy; orders Deliver and Unbind with the final drain
	closed   bool       // the window has been drained: Deliver refuses
	unbindBy time.Time  // when Unbind gives up waiting for unbind_resp
}

// boundState is what a successful bind fixes for the session's lifetime.
type boundState struct {
	typ      BindType
	systemID string
	handler  Handler
}

func newSession(srv *Server, nc net.Conn, id uint64) *Session {
	cfg := &srv.cfg
	s := &Session{
		id:     id,
		srv:    srv,
		remote: nc.RemoteAddr(),
		window: link.NewWindow[string](cfg.Window),
	}
	s.conn = link.New(nc, link.Config{
		MaxLength:   cfg.MaxLength,
		MaxQueued:   cfg.MaxQueued,
		EnquireLink: cfg.EnquireLink,
		DeadAfter:   cfg.EnquireLink + cfg.ResponseTimeout,
		Tick:        cfg.tick(),
	})
	return s
}

// ID returns the session's number, unique within its Server.
func (s *Session) ID() uint64 { return s.id }

// RemoteAddr returns the client's address.
func (s *Session) RemoteAddr() net.Addr { return s.remote }

// SystemID returns the system_id the session bound with, or "" before bind.
func (s *Session) SystemID() string {
	if b := s.bound.Load(); b != nil {
		return b.systemID
	}
	return ""
}

// Type returns how the session is bound; zero before bind.
func (s *Session) Type() BindType {
	if b := s.bound.Load(); b != nil {
		return b.typ
	}
	return 0
}

// Logger returns a logger with the session's fields: session and remote,
// and after bind system_id and bind_type. It is built at each call (an
// idle session holds no logger), so keep it off paths taken per PDU; those
// use debug. Its fields are encoded only once it writes (zap's WithLazy):
// a line below the level costs no copy of the encoder, which a bind
// would otherwise leave behind as garbage.
func (s *Session) Logger() *zap.Logger { return s.srv.log.WithLazy(s.fields()...) }

// fields returns the session's fields followed by more.
func (s *Session) fields(more ...zap.Field) []zap.Field {
	remote := "unknown"
	if s.remote != nil {
		remote = s.remote.String()
	}
	f := make([]zap.Field, 0, 4+len(more))
	f = append(f, zap.Uint64("session", s.id), zap.String("remote", remote))
	if b := s.bound.Load(); b != nil {
		f = append(f, zap.String("system_id", b.systemID), zap.Stringer("bind_type", b.typ))
	}
	return append(f, more...)
}

// debug returns the checked entry of a debug line about the session, or
// nil when debug is off; write it with s.fields(...). It asks the core
// first: zap's Check takes a frame of over a kilobyte, which would grow
// the session goroutine's stack (see checkAside) for a line not written.
func (s *Session) debug(msg string) *zapcore.CheckedEntry {
	if !s.srv.log.Core().Enabled(zap.DebugLevel) {
		return nil
	}
	return s.srv.log.Check(zap.DebugLevel, msg)
}

// ReadTime returns when the read that brought the PDU being handled
// returned: within Handler.Submit, a clock reading that costs nothing.
func (s *Session) ReadTime() time.Time { return s.conn.ReadTime() }

// WindowFree returns how many more deliver_sm Deliver would accept now.
func (s *Session) WindowFree() int { return s.window.Cap() - s.window.Len() }

// Send queues a whole frame for the client (a submit_sm_resp, say) and
// returns at once; the frame is copied. It returns ErrClosed after the
// session ended, and ErrSlowConsumer, closing the session, when the client
// does not read fast enough.
func (s *Session) Send(frame []byte) error {
	if !wellFramed(frame) {
		return ErrBadFrame
	}
	return linkErr(s.conn.Send(frame))
}

// Deliver sends a deliver_sm frame to the client under the session's next
// sequence number, which it writes into frame in place (the frame is then
// copied, so the caller may reuse it when Deliver returns), and keeps ref in
// the window until the client's response, ResponseTimeout or the end of the
// session; Handler.Delivered then reports the outcome. When Deliver returns
// an error, Delivered is not called for ref: ErrWindowFull (try later),
// ErrNotReceiver, ErrClosed (also once Unbind has begun), ErrSlowConsumer,
// ErrBadFrame.
func (s *Session) Deliver(frame []byte, ref string) error {
	if !wellFramed(frame) || pdu.ID(frame) != pdu.CmdDeliverSM {
		return ErrBadFrame
	}
	if b := s.bound.Load(); b == nil || !b.typ.CanReceive() {
		return ErrNotReceiver
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.unbinding.Load() {
		return ErrClosed
	}
	seq := s.conn.NextSeq()
	if !s.window.Add(seq, ref, time.Now().Add(s.srv.cfg.ResponseTimeout)) {
		return ErrWindowFull
	}
	pdu.PatchSeq(frame, seq)
	if err := s.conn.Send(frame); err != nil {
		s.window.Take(seq)
		return linkErr(err)
	}
	return nil
}

// Close ends the session with cause, at once, without unbind. Safe to call
// more than once and from any goroutine.
func (s *Session) Close(cause error) {
	if cause == nil {
		cause = ErrClosed
	}
	s.conn.Close(cause)
}

// Unbind sends unbind to the client; the session closes when the
// unbind_resp arrives, or after ResponseTimeout (at most 5s). Deliver
// refuses from now on; deliver_sm already sent still get their responses.
// A session not yet bound is closed at once.
func (s *Session) Unbind() {
	if s.bound.Load() == nil {
		s.Close(ErrUnbound)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.unbinding.Load() {
		return
	}
	s.unbindBy = time.Now().Add(s.srv.cfg.unbindWait())
	s.unbinding.Store(true)
	var b [pdu.HeaderLen]byte
	_ = s.conn.Send(pdu.AppendHeaderOnly(b[:0], pdu.CmdUnbind, pdu.StatusOK, s.conn.NextSeq()))
}

// unbindExpired reports whether an Unbind has waited long enough.
func (s *Session) unbindExpired(now time.Time) bool {
	if !s.unbinding.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.After(s.unbindBy)
}

// wellFramed reports whether frame holds a header and its command_length
// is its size.
func wellFramed(frame []byte) bool {
	return len(frame) >= pdu.HeaderLen && binary.BigEndian.Uint32(frame) == uint32(len(frame))
}

// linkErr turns the link package's errors into this package's.
func linkErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, link.ErrClosed), errors.Is(err, link.ErrDone):
		return ErrClosed
	case errors.Is(err, link.ErrQueueFull), errors.Is(err, link.ErrWriteTimeout):
		return fmt.Errorf("%w: %w", ErrSlowConsumer, err)
	case errors.Is(err, link.ErrDeadPeer):
		return ErrDeadPeer
	}
	return err
}

// serve runs the connection until it ends, then closes the socket and, for
// a bound session, drains the window and tells the Handler. It runs on the
// session goroutine, which the Server started and waits for.
func (s *Session) serve() {
	defer s.srv.remove(s)
	if err := s.conn.NetConn().SetReadDeadline(time.Now().Add(s.srv.cfg.BindTimeout)); err != nil {
		s.conn.Close(err)
	}
	err := s.conn.Serve(context.Background(), sessionLink{s}) // Server.Close closes the session itself
	s.end(s.cause(err))
}

// cause turns what conn.Serve returned into the session's cause.
func (s *Session) cause(err error) error {
	var le *pdu.LengthError
	var pe *link.PanicError
	switch {
	case errors.As(err, &le):
		// link has answered generic_nack ESME_RINVCMDLEN before closing.
		return fmt.Errorf("%w: %w", ErrCommandLength, err)
	case errors.As(err, &pe):
		if inner, ok := pe.Value.(*link.PanicError); ok {
			pe = inner // raised again by aside: its stack is where the panic began
		}
		return s.panicked(pe.Value, pe.Stack)
	case errors.Is(err, os.ErrDeadlineExceeded) && s.bound.Load() == nil:
		// Only the bind timeout sets a read deadline; link maps write
		// timeouts to ErrWriteTimeout.
		return ErrBindTimeout
	}
	return linkErr(err)
}

// end drains the window of a bound session and calls Handler.Closed.
func (s *Session) end(cause error) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	b := s.bound.Load()
	if b == nil {
		if ce := s.debug("connection closed before bind"); ce != nil {
			ce.Write(s.fields(zap.Error(cause))...)
		}
		return
	}
	s.window.Drain(func(_ uint32, ref string) {
		_ = s.guard(func() { b.handler.Delivered(s, ref, 0, ErrClosed) })
	})
	_ = s.guard(func() { b.handler.Closed(s, cause) })
	if errors.Is(cause, ErrSlowConsumer) || errors.Is(cause, ErrDeadPeer) {
		s.srv.count(cause)
		s.Logger().Warn("session closed", zap.Error(cause))
	} else if errors.Is(cause, ErrUnbound) {
		s.Logger().Info("session unbound") // the normal end: no error to report
	} else {
		s.Logger().Info("session closed", zap.Error(cause))
	}
}

// guard runs a Handler call outside link's read loop (which recovers by
// itself); a panic is logged and returned as the session's cause.
func (s *Session) guard(fn func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = s.panicked(v, debug.Stack())
		}
	}()
	fn()
	return nil
}

// panicked logs a handler panic with its stack, and returns the session's
// cause for it.
func (s *Session) panicked(v any, stack []byte) error {
	s.Logger().Error("handler panic; session closed", zap.Any("panic", v), zap.ByteString("stack", stack))
	return fmt.Errorf("downstream: handler panic: %v", v)
}
