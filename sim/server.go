package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// Server is a simulated provider: one account space served on any number
// of listeners (hosts). Create it with New, then call Serve once per
// listener; stop it with Shutdown or Close. Its methods are safe for
// concurrent use.
type Server struct {
	cfg    Config
	log    *zap.Logger
	start  time.Time // origin of the scheduler's monotonic clock
	sched  *scheduler
	ctx    context.Context // ends every session and the scheduler
	cancel context.CancelFunc

	throttle    atomic.Bool   // SetThrottle
	ids         atomic.Uint64 // message ids handed out
	nextSession atomic.Uint64
	stats       counters

	mu           sync.Mutex // guards the fields below
	shutdown     bool       // Shutdown or Close began; nothing new starts
	hosts        map[*host]struct{}
	sessions     map[*session]struct{}
	accounts     map[string]*account
	schedStarted bool
	sessWG       sync.WaitGroup // one per session goroutine
	bgWG         sync.WaitGroup // the scheduler

	rec recorder
}

// host is one listener: the provider's a.smpp or b.smpp.
type host struct {
	ln      net.Listener
	addr    string
	stopped bool // StopHost closed ln; guarded by Server.mu
}

// counters are the atomics behind Stats.
type counters struct {
	binds, bindFailures                    atomic.Uint64
	submits, accepted, throttled, rejected atomic.Uint64
	dlrsSent, dlrsAcked, mosSent, mosAcked atomic.Uint64
	resent, dropped                        atomic.Uint64
	bound                                  atomic.Int64
}

// New returns a Server scripted by cfg. Nothing runs until Serve.
func New(cfg Config) *Server {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		start:    time.Now(),
		ctx:      ctx,
		cancel:   cancel,
		hosts:    make(map[*host]struct{}),
		sessions: make(map[*session]struct{}),
		accounts: make(map[string]*account),
	}
	s.sched = newScheduler(s)
	s.rec.init(cfg.Record)
	return s
}

// since is the scheduler's clock: monotonic time since New.
func (s *Server) since() time.Duration { return time.Since(s.start) }

// Serve accepts connections on ln until Shutdown or Close, and returns
// ErrServerClosed then. Each listener is one host of the same account
// space, so Serve may be called for several, each on its own goroutine.
// Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	h := &host{ln: ln, addr: ln.Addr().String()}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.hosts[h] = struct{}{}
	if !s.schedStarted {
		s.schedStarted = true
		s.bgWG.Go(func() { s.sched.run(s.ctx) })
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.hosts, h)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	s.log.Info("listening", zap.String("host", h.addr))
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				s.mu.Lock()
				stopped := h.stopped
				s.mu.Unlock()
				if stopped {
					return ErrHostStopped
				}
				return fmt.Errorf("sim: accept on %s: %w", h.addr, err)
			}
			// Out of descriptors or the like: back off as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", zap.String("host", h.addr), zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
			}
			continue
		}
		backoff = 0
		if !s.startSession(h, nc) {
			return ErrServerClosed
		}
	}
}

// closing reports whether Shutdown or Close has begun.
func (s *Server) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// startSession registers a connection and runs it; false once shut down.
func (s *Server) startSession(h *host, nc net.Conn) bool {
	ss := newSession(s, h, nc, s.nextSession.Add(1))
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		_ = nc.Close()
		return false
	}
	s.sessions[ss] = struct{}{}
	s.sessWG.Add(1) // under mu, so never after Shutdown's Wait began
	s.mu.Unlock()
	go s.serveSession(ss)
	return true
}

func (s *Server) serveSession(ss *session) {
	defer s.sessWG.Done()
	err := ss.conn.Serve(s.ctx, ss)
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
	if a := ss.rxAcct.Load(); a != nil {
		a.removeReceiver(ss)
	}
	var pe *link.PanicError
	if errors.As(err, &pe) {
		ss.log.Error("handler panic; session closed", zap.Any("panic", pe.Value), zap.ByteString("stack", pe.Stack))
	}
	if ss.bound.Load() {
		s.stats.bound.Add(-1)
		ss.log.Info("session closed", zap.NamedError("cause", err))
	} else if ce := ss.log.Check(zap.DebugLevel, "connection closed"); ce != nil {
		ce.Write(zap.NamedError("cause", err))
	}
}

// Shutdown stops accepting, sends unbind on every bound session and waits
// for them to end (their peers answer unbind_resp) and for the scheduler.
// If ctx ends first the remaining sessions are closed at once, Shutdown
// still waits for their goroutines, and returns ctx.Err(). Reports not yet
// acknowledged are dropped.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for h := range s.hosts {
		_ = h.ln.Close()
	}
	var unbind [pdu.HeaderLen]byte
	for ss := range s.sessions {
		if ss.bound.Load() {
			_ = ss.conn.Send(pdu.AppendHeaderOnly(unbind[:0], pdu.CmdUnbind, pdu.StatusOK, ss.conn.NextSeq()))
		} else {
			ss.conn.Close(ErrServerClosed)
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.sessWG.Wait(); close(done) }() // waited for below, in both cases
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.cancel()
	<-done
	s.bgWG.Wait()
	return err
}

// Close stops accepting and closes every session at once, without unbind,
// then waits for every goroutine of the Server.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	for h := range s.hosts {
		_ = h.ln.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.sessWG.Wait()
	s.bgWG.Wait()
	return nil
}

// StopHost takes the host listening at addr down, as the provider does
// during maintenance: its listener closes (Serve returns ErrHostStopped)
// and its sessions are dropped without unbind. Serve on a new listener at
// the same address brings the host back.
func (s *Server) StopHost(addr string) {
	s.mu.Lock()
	for h := range s.hosts {
		if h.addr == addr {
			h.stopped = true
			_ = h.ln.Close()
		}
	}
	s.mu.Unlock()
	s.DropSessions(addr)
}

// DropSessions closes, without unbind, every session on the host
// listening at addr (as Addr().String() gives it), or on every host when
// addr is "": provider maintenance. Their unacknowledged reports go to the
// account's other sessions. The listeners keep accepting.
func (s *Server) DropSessions(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.sessions {
		if addr == "" || ss.host.addr == addr {
			ss.conn.Close(ErrDropped)
		}
	}
}

// SetThrottle makes every submit_sm be answered ESME_RTHROTTLED (0x58)
// while on, as the provider does when an account exceeds its limits.
func (s *Server) SetThrottle(on bool) { s.throttle.Store(on) }

// checkCredentials applies Config.Accounts.
func (s *Server) checkCredentials(systemID, password string) pdu.Status {
	if len(s.cfg.Accounts) == 0 {
		return pdu.StatusOK
	}
	pw, ok := s.cfg.Accounts[systemID]
	switch {
	case !ok:
		return pdu.StatusInvSystemID
	case pw != password:
		return pdu.StatusInvPassword
	}
	return pdu.StatusOK
}

// account returns the account of systemID, creating it on first use.
func (s *Server) account(systemID string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[systemID]
	if !ok {
		a = newAccount(s, systemID)
		s.accounts[systemID] = a
	}
	return a
}

// InjectMO sends a mobile originated message from src to dst as a
// deliver_sm (esm_class 0) to one bound receiver or transceiver session of
// the account systemID, round-robin like receipts; it waits for one to bind
// when none is. Text over 254 octets goes in TLV message_payload (0x0424),
// as the provider does. dataCoding must be one the provider uses for MOs
// (0, 3, 4, 8) and text must decode under it.
func (s *Server) InjectMO(systemID, src, dst string, dataCoding byte, text []byte) error {
	switch {
	case s.closing():
		return ErrServerClosed
	case len(s.cfg.Accounts) > 0 && !hasKey(s.cfg.Accounts, systemID):
		return fmt.Errorf("sim: inject mo for %q: %w", systemID, ErrUnknownAccount)
	case !moDataCoding(dataCoding):
		return fmt.Errorf("sim: inject mo: data_coding %d: %w", dataCoding, ErrMODataCoding)
	case len(text) > 0xFFFF:
		return fmt.Errorf("sim: inject mo: %d octets is over message_payload's 65535", len(text))
	}
	if err := pdu.CheckText(dataCoding, text); err != nil {
		return fmt.Errorf("sim: inject mo: %w", err)
	}
	s.account(systemID).enqueue(moReport(src, dst, dataCoding, text))
	return nil
}

// InjectReceipt sends a DELIVRD receipt for messageID to the account, as
// the provider does for a message submitted outside this simulator (by
// another system on the same account, or before a restart).
func (s *Server) InjectReceipt(systemID, messageID string) error {
	switch {
	case s.closing():
		return ErrServerClosed
	case len(s.cfg.Accounts) > 0 && !hasKey(s.cfg.Accounts, systemID):
		return fmt.Errorf("sim: inject receipt for %q: %w", systemID, ErrUnknownAccount)
	}
	a := s.account(systemID)
	now := time.Now()
	rc := newReceipt(a, messageID, &pdu.SM{DestTON: 1, DestAddr: []byte("4500000000"), SourceAddr: []byte("sim")}, now)
	a.enqueue(rc.report(pdu.StatDelivered, pdu.StateDelivered, now))
	return nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// Stats returns the Server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	accts := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accts = append(accts, a)
	}
	s.mu.Unlock()
	pending := 0
	for _, a := range accts {
		pending += a.pendingLen()
	}
	c := &s.stats
	return Stats{
		Binds:         c.binds.Load(),
		BindFailures:  c.bindFailures.Load(),
		Submits:       c.submits.Load(),
		Accepted:      c.accepted.Load(),
		Throttled:     c.throttled.Load(),
		Rejected:      c.rejected.Load(),
		DLRsSent:      c.dlrsSent.Load(),
		DLRsAcked:     c.dlrsAcked.Load(),
		MOsSent:       c.mosSent.Load(),
		MOsAcked:      c.mosAcked.Load(),
		Resent:        c.resent.Load(),
		Dropped:       c.dropped.Load(),
		SessionsBound: int(c.bound.Load()),
		Pending:       pending,
	}
}

// Submits returns the latest submit_sm received on bound sessions (at most
// Config.Record), oldest first.
func (s *Server) Submits() []Submit { return s.rec.all() }
