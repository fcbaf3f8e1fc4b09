package upstream

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// State is where a Session's slot is in its life.
type State int32

// States of a slot. A slot goes Idle → Connecting → Binding → Bound
// (→ Unbinding) → Down → Connecting ... and is Closed when the Pool stops.
// A slot that Reconfigure retires goes Bound → Draining → Unbinding →
// Closed.
const (
	StateIdle       State = iota // Start not called yet
	StateConnecting              // dialing (TCP or TLS)
	StateBinding                 // bind_* sent, waiting for bind_*_resp
	StateBound                   // bound: submits accepted
	StateDraining                // retired by Reconfigure: no new submits; those in flight are answered
	StateUnbinding               // unbind sent (shutdown or retired), waiting for unbind_resp
	StateDown                    // connection lost or refused; waiting to reconnect
	StateClosed                  // the pool stopped or retired the slot; it will not reconnect
)

var stateNames = [...]string{"idle", "connecting", "binding", "bound", "draining", "unbinding", "down", "closed"}

// String returns the lowercase name of s, as /status shows it.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Session is one slot of the Pool: a place for one connection to one host,
// with the settings the slot was made with, replaced by a new connection
// whenever the old one ends. Its methods are safe for concurrent use.
type Session struct {
	pool  *Pool
	cfg   *Config // the slot's settings; shared with its siblings, never changed
	host  Host
	index int         // the slot's number in the pool, never reused
	log   *zap.Logger // host, session, system_id

	// stopCtx, a child of the pool's, ends the slot's dials, binds,
	// back-off waits and reconnects: when the pool stops or Reconfigure
	// retires the slot. Set by Pool.start.
	stopCtx    context.Context
	stopCancel context.CancelCauseFunc
	ended      chan struct{}           // closed when the slot's goroutine ends
	retiring   atomic.Bool             // Reconfigure retires the slot: no new submits or reports; set under mu
	lastErr    atomic.Pointer[Failure] // why the last connection or attempt ended, and when

	state         atomic.Int32
	since         atomic.Int64 // unix nanos of the last change of state; 0 before the first
	throttleUntil atomic.Int64 // unix nanos; 0: not throttled
	binds         atomic.Uint64
	lat           latency
	responses     statusCounts // submit_sm_resp by command_status
	cur           atomic.Pointer[conn]

	// mu orders Submit against the end of a connection: a Submit holding
	// mu either sees cur nil or adds its entry before end drains the
	// window. It guards writes to cur.
	mu sync.Mutex
}

// conn is one bound connection of a slot.
type conn struct {
	link     *link.Conn
	gen      uint64
	win      *link.Window[pending]
	unbindBy atomic.Int64 // unix nanos; non-zero once we sent unbind

	// unreplied counts deliver_sm handed to the Handler and not yet
	// answered through Reply. After our unbind is answered the connection
	// stays open until they are (or unbindBy passes): a report the
	// provider sent just before it does not get resent, and duplicated,
	// because its deliver_sm_resp found the connection gone.
	unreplied   atomic.Int64
	unbindAcked atomic.Bool // the provider answered our unbind
}

// pending is a submit_sm waiting for its response.
type pending struct {
	buf  *[]byte // the frame as sent; back to bufPool after SubmitDone
	w    Waiter
	ref  uint64
	sent int64 // unix nanos
}

// Host returns the address of the session's host.
func (s *Session) Host() string { return s.host.Address }

// Index returns the slot's number: NewPool numbers its slots 0, 1, ... in
// host order, and Reconfigure numbers the slots it adds on from there. A
// number is never reused, so a slot's counters keep their own series.
func (s *Session) Index() int { return s.index }

// State returns where the slot is now.
func (s *Session) State() State { return State(s.state.Load()) }

func (s *Session) setState(st State) {
	if phase(State(s.state.Swap(int32(st)))) != phase(st) {
		s.since.Store(time.Now().UnixNano())
	}
}

// phase is st, but for the states of a slot trying to (re)connect:
// connecting, binding and down are one phase, so that a slot retrying
// all night has been down since it went down, not since its last try.
func phase(st State) State {
	switch st {
	case StateConnecting, StateBinding:
		return StateDown
	}
	return st
}

// Since returns when the slot's state last changed, counting connecting,
// binding and down as one state (a slot retrying is down since it first
// went down, or since it started); zero before Start.
func (s *Session) Since() time.Time {
	if n := s.since.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Failure is why a slot's connection, or attempt to connect, ended, and
// when.
type Failure struct {
	Err error
	At  time.Time
}

// LastFailure returns why the slot's last connection, or attempt to
// connect, ended and when; the zero Failure before the first ended. It
// stays after a new connection binds: it says why the slot reconnected.
// FailureKind names its kind.
func (s *Session) LastFailure() Failure {
	if f := s.lastErr.Load(); f != nil {
		return *f
	}
	return Failure{}
}

// Gen returns the generation of the bound connection, as Handler.Deliver
// gets it, or 0 when not bound.
func (s *Session) Gen() uint64 {
	if c := s.cur.Load(); c != nil {
		return c.gen
	}
	return 0
}

// Pending returns the submit_sm waiting for their response.
func (s *Session) Pending() int {
	if c := s.cur.Load(); c != nil {
		return c.win.Len()
	}
	return 0
}

// Free returns how many more submit_sm the window takes now; 0 when not
// bound.
func (s *Session) Free() int {
	if c := s.cur.Load(); c != nil {
		return c.win.Cap() - c.win.Len()
	}
	return 0
}

// Throttled reports whether the session is in its pause after an
// ESME_RTHROTTLED answer.
func (s *Session) Throttled(now time.Time) bool {
	until := s.throttleUntil.Load()
	return until != 0 && now.UnixNano() < until
}

// Available reports whether Submit would accept a message now: bound for
// submitting, not draining or unbinding, not throttled, room in the
// window, and the pool not closing.
func (s *Session) Available(now time.Time) bool {
	c := s.cur.Load()
	return c != nil && c.unbindBy.Load() == 0 && !s.retiring.Load() && s.cfg.canSubmit() &&
		!s.pool.closing.Load() && !s.Throttled(now) && c.win.Len() < c.win.Cap()
}

// Submit sends a submit_sm frame on the session's connection. It copies
// the frame, writes the connection's next sequence number into the copy,
// keeps it in the window until the response, ResponseTimeout or the end of
// the connection, and returns at once. When Submit returns nil,
// w.SubmitDone is called exactly once for ref; when it returns an error
// (ErrNotBound, ErrWindowFull, ErrThrottled, ErrClosing, ErrBadFrame) it is
// not called, and nothing was sent.
func (s *Session) Submit(frame []byte, w Waiter, ref uint64) error {
	return s.SubmitAt(time.Now(), frame, w, ref)
}

// SubmitAt is Submit with the caller's reading of the clock, from which
// the response deadline is counted.
func (s *Session) SubmitAt(now time.Time, frame []byte, w Waiter, ref uint64) error {
	if !wellFramed(frame) || pdu.ID(frame) != pdu.CmdSubmitSM {
		return ErrBadFrame
	}
	if s.pool.closing.Load() {
		return ErrClosing
	}
	if s.Throttled(now) {
		return ErrThrottled
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur.Load()
	switch {
	case s.pool.closing.Load(): // checked again under mu: Shutdown's barrier
		return ErrClosing
	case c == nil || c.unbindBy.Load() != 0 || s.retiring.Load() || !s.cfg.canSubmit():
		return ErrNotBound
	case c.win.Len() >= c.win.Cap():
		return ErrWindowFull
	}
	buf := getBuf(len(frame))
	*buf = append((*buf)[:0], frame...)
	seq := c.link.NextSeq()
	pdu.PatchSeq(*buf, seq)
	if !c.win.Add(seq, pending{buf: buf, w: w, ref: ref, sent: now.UnixNano()}, now.Add(s.cfg.ResponseTimeout)) {
		putBuf(buf)
		return ErrWindowFull
	}
	if err := c.link.Send(*buf); err != nil {
		if _, ok := c.win.Take(seq); ok {
			putBuf(buf)
			return ErrNotBound
		}
		// Someone else took the entry and calls SubmitDone.
	}
	return nil
}

// Reply sends a response (deliver_sm_resp) to the provider on the
// connection of generation gen, as Handler.Deliver got it; the frame is
// copied. It returns ErrStale, sending nothing, when that connection has
// ended or been replaced: the provider sends the report again on another
// bind.
func (s *Session) Reply(gen uint64, frame []byte) error {
	if !wellFramed(frame) {
		return ErrBadFrame
	}
	c := s.cur.Load()
	if c == nil || c.gen != gen {
		return ErrStale
	}
	if pdu.ID(frame) == pdu.CmdDeliverSMResp && c.unreplied.Add(-1) == 0 && c.unbindAcked.Load() {
		c.link.SendAndClose(frame, errUnbound) // the last answer the unbind waited for
		return nil
	}
	if err := c.link.Send(frame); err != nil {
		return ErrStale
	}
	return nil
}

// unbind sends unbind on the bound connection, if any; the connection
// closes on unbind_resp or after ResponseTimeout (see connLink.Tick in
// handle.go).
func (s *Session) unbind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur.Load()
	if c == nil || !c.unbindBy.CompareAndSwap(0, time.Now().Add(s.cfg.ResponseTimeout).UnixNano()) {
		return
	}
	s.setState(StateUnbinding)
	var b [pdu.HeaderLen]byte
	_ = c.link.Send(pdu.AppendHeaderOnly(b[:0], pdu.CmdUnbind, pdu.StatusOK, c.link.NextSeq()))
}

// publish makes c the session's bound connection and wakes Room waiters.
func (s *Session) publish(c *conn) {
	s.mu.Lock()
	s.cur.Store(c)
	s.setState(StateBound)
	s.mu.Unlock()
	s.binds.Add(1)
	if s.pool.stopping.Load() || s.retiring.Load() {
		s.unbind() // Shutdown began, or Reconfigure retired the slot, while we bound
	}
	s.pool.signalRoom()
}

// end forgets the connection c, after its Serve returned: every submit
// still waiting gets SubmitDone(ErrSessionLost).
func (s *Session) end(c *conn) {
	s.mu.Lock()
	s.cur.Store(nil)
	s.setState(StateDown)
	s.mu.Unlock()
	n := 0
	c.win.Drain(func(_ uint32, p pending) {
		n++
		s.done(p, nil, ErrSessionLost)
	})
	if n > 0 {
		s.pool.signalRoom() // Shutdown waits on pending reaching zero
	}
}

// done calls the waiter of p and recycles its buffer.
func (s *Session) done(p pending, resp []byte, err error) {
	p.w.SubmitDone(s, p.ref, *p.buf, resp, time.Unix(0, p.sent), err)
	putBuf(p.buf)
}

// wellFramed reports whether frame holds a header and its command_length
// is its size.
func wellFramed(frame []byte) bool {
	return len(frame) >= pdu.HeaderLen && binary.BigEndian.Uint32(frame) == uint32(len(frame))
}

// bufPool recycles the copies of submitted frames.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBuf keeps rare huge frames out of the pool.
const maxPooledBuf = 16 << 10

func getBuf(n int) *[]byte {
	b := bufPool.Get().(*[]byte)
	if cap(*b) < n {
		*b = make([]byte, 0, n)
	}
	return b
}

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
