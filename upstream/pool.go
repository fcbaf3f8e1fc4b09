package upstream

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Handler receives what the provider sends that is not a response.
type Handler interface {
	// Deliver is called on the session's read goroutine for each
	// deliver_sm, in order; frame is valid only during the call and
	// Deliver must not block for long. The handler answers later with
	// s.Reply(gen, deliver_sm_resp frame), typically after the report is
	// durably stored, never before. gen identifies the connection the
	// deliver_sm came on: a Reply for a connection that has since been
	// replaced returns ErrStale and is not sent (the provider will resend
	// that report on another bind).
	Deliver(s *Session, gen uint64, frame []byte)
}

// Waiter receives the outcome of a Submit.
type Waiter interface {
	// SubmitDone is called exactly once per Submit that returned nil:
	// with resp = the submit_sm_resp frame (any status, including the
	// provider's error statuses, which must reach the client unchanged;
	// a generic_nack comes as a header-only submit_sm_resp with its
	// status), or with resp = nil and err = ErrTimeout or ErrSessionLost.
	// req is the submit_sm as sent (upstream seq), so the caller can retry
	// it elsewhere, e.g. after ESME_RTHROTTLED; req and resp are valid only
	// during the call. sent is when the submit_sm went into the session's
	// window, for the caller's latency. It is called from the session's
	// goroutines (read, write or slot) and must not block.
	SubmitDone(s *Session, ref uint64, req, resp []byte, sent time.Time, err error)
}

// Pool is the set of upstream sessions: SessionsPerHost slots on each
// host, each keeping one connection bound and replacing it when it ends.
// Create it with NewPool, run it with Start, move it to new settings with
// Reconfigure, stop it with Shutdown or Close. Its methods are safe for
// concurrent use.
type Pool struct {
	handler Handler
	slots   atomic.Pointer[[]*Session] // the slots now; replaced whole under mu, never changed in place
	gen     atomic.Uint64              // generations of bound connections, from 1

	// dial opens a connection to a host; tests replace it to count
	// connections.
	dial func(ctx context.Context, h Host) (net.Conn, error)

	closing  atomic.Bool // Submit refuses: Shutdown or Close began
	draining atomic.Bool // new deliver_sm are refused: Shutdown is about to unbind
	stopping atomic.Bool // no more reconnects; bound sessions unbind

	runCtx     context.Context // ends every connection at once: Close, Start's ctx
	runCancel  context.CancelCauseFunc
	stopCtx    context.Context // child of runCtx: ends dials, binds and back-off waits
	stopCancel context.CancelCauseFunc

	reconfMu sync.Mutex // one Reconfigure at a time

	mu      sync.Mutex    // guards the fields below, and writes to slots
	started bool          // Start was called
	next    int           // the number of the next slot made
	room    chan struct{} // closed and replaced by signalRoom when watched
	watched bool          // Room handed out room since it was made
	wg      sync.WaitGroup
}

// noHandler serves a transmitter bind, which should never get deliver_sm:
// one that comes anyway is refused with a temporary status, so the
// provider keeps the report for another bind.
type noHandler struct{}

func (noHandler) Deliver(s *Session, gen uint64, frame []byte) {
	var b [pdu.HeaderLen]byte
	_ = s.Reply(gen, pdu.AppendHeaderOnly(b[:0], pdu.CmdDeliverSMResp, pdu.StatusTempAppErr, pdu.Seq(frame)))
}

var errNoHandler = errors.New("upstream.bind: a receiver or transceiver bind needs a deliver_sm handler")

// NewPool checks cfg and returns a Pool that hands deliver_sm to h (which
// may be nil for a transmitter bind). Nothing runs until Start.
func NewPool(cfg Config, h Handler) (*Pool, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if h == nil {
		if cfg.Bind != pdu.CmdBindTransmitter {
			return nil, errNoHandler
		}
		h = noHandler{}
	}
	p := &Pool{handler: h, room: make(chan struct{})}
	p.dial = p.dialHost
	var ss []*Session
	for _, host := range cfg.Hosts {
		for range cfg.SessionsPerHost {
			ss = append(ss, p.newSession(&cfg, host))
		}
	}
	p.slots.Store(&ss)
	return p, nil
}

// newSession makes a slot on h with cfg's settings; the caller holds mu,
// or has the only reference to p.
func (p *Pool) newSession(cfg *Config, h Host) *Session {
	s := &Session{pool: p, cfg: cfg, host: h, index: p.next, ended: make(chan struct{})}
	p.next++
	s.log = cfg.Logger.With(zap.String("host", h.Address), zap.Int("session", s.index), zap.String("system_id", cfg.SystemID))
	return s
}

// Start runs one goroutine per slot: dial, bind, serve and, when the
// connection ends, reconnect with back-off. The slots stop when ctx ends
// (connections closed at once, without unbind), or by Shutdown or Close.
// Start is called once; later calls do nothing.
func (p *Pool) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closing.Load() {
		return
	}
	p.started = true
	p.runCtx, p.runCancel = context.WithCancelCause(ctx)
	p.stopCtx, p.stopCancel = context.WithCancelCause(p.runCtx)
	for _, s := range p.Sessions() {
		p.start(s)
	}
}

// start runs the slot s; the caller holds mu, and the pool is started.
func (p *Pool) start(s *Session) {
	s.stopCtx, s.stopCancel = context.WithCancelCause(p.stopCtx)
	p.wg.Go(s.run)
}

// Sessions returns the slots now, in the order they were made: NewPool's
// in host order, then those Reconfigure added. The slice is shared, and
// never changed: do not modify it. Reconfigure makes a new one each time
// it adds or drops a slot, so a caller may keep a slice it got.
func (p *Pool) Sessions() []*Session { return *p.slots.Load() }

// Room returns a channel that is closed the next time a session gains
// room: a response or timeout freed its window, it bound, or its throttle
// pause ended. Take a new channel after each wake-up, then look at the
// sessions again, so a caller waiting for capacity wakes without polling.
func (p *Pool) Room() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watched = true
	return p.room
}

// signalRoom wakes Room waiters. It makes a channel only when someone took
// the current one, so the per-response path costs nothing when no one
// waits.
func (p *Pool) signalRoom() {
	p.mu.Lock()
	if p.watched {
		close(p.room)
		p.room = make(chan struct{})
		p.watched = false
	}
	p.mu.Unlock()
}

// Bound returns the number of sessions bound now and not draining, for
// /healthz.
func (p *Pool) Bound() int {
	n := 0
	for _, s := range p.Sessions() {
		if s.State() == StateBound {
			n++
		}
	}
	return n
}

// Shutdown stops the pool gracefully. Submit returns ErrClosing from now
// on; Shutdown waits until every submit in flight has been answered (or
// timed out), then sends unbind on every bound session, waits up to
// ResponseTimeout for each unbind_resp, closes the connections, stops
// reconnecting and waits for every goroutine of the pool. When ctx ends
// first, the remaining connections are closed at once (their open submits
// get SubmitDone(ErrSessionLost)), Shutdown still waits for the
// goroutines, and returns ctx.Err().
func (p *Pool) Shutdown(ctx context.Context) error {
	p.closing.Store(true)
	ss := p.Sessions()
	for _, s := range ss {
		// An empty critical section is the barrier: a Submit that missed
		// closing has added its entry once Lock returns.
		s.mu.Lock()
		//lint:ignore SA2001 the empty critical section is the barrier above
		s.mu.Unlock()
	}
	err := p.waitIdle(ctx, ss)
	p.stopping.Store(true)
	if !p.isStarted() {
		return err
	}
	// isStarted took mu: Reconfigure has added its last slot.
	p.draining.Store(true)
	ss = p.Sessions()
	var bound time.Duration
	for _, s := range ss {
		bound = max(bound, s.cfg.ResponseTimeout)
	}
	p.drain(ctx, ss, bound)
	p.stopCancel(errPoolStopped)
	for _, s := range ss {
		s.unbind()
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }() // ends with the slots, waited for below
	select {
	case <-done:
		return err
	case <-ctx.Done():
		p.runCancel(errPoolStopped)
		<-done
		return ctx.Err()
	}
}

// drain waits until the reports already handed to the Handler on ss are
// answered, for bound at most: then the unbind that follows loses none of
// their answers. The caller has made the sessions refuse new reports
// (ESME_RX_T_APPN, so the provider keeps them): draining or retiring.
func (p *Pool) drain(ctx context.Context, ss []*Session, bound time.Duration) {
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for unreplied(ss) > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func unreplied(ss []*Session) int64 {
	var n int64
	for _, s := range ss {
		if c := s.cur.Load(); c != nil {
			n += c.unreplied.Load()
		}
	}
	return n
}

// waitIdle waits until no submit is waiting for a response on ss, or ctx
// ends.
func (p *Pool) waitIdle(ctx context.Context, ss []*Session) error {
	for {
		room := p.Room()
		n := 0
		for _, s := range ss {
			n += s.Pending()
		}
		if n == 0 {
			return nil
		}
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Pool) isStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// Close stops the pool at once: no unbind, connections closed, open
// submits get SubmitDone(ErrSessionLost). It waits for every goroutine of
// the pool.
func (p *Pool) Close() error {
	p.closing.Store(true)
	p.stopping.Store(true)
	if !p.isStarted() {
		return nil
	}
	p.runCancel(errPoolStopped)
	p.wg.Wait()
	return nil
}
