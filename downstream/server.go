package downstream

import (
	"container/list"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Server accepts SMPP connections and runs a Session for each. Create it
// with NewServer, run it with Serve, stop it with Shutdown or Close.
type Server struct {
	cfg    Config
	binder Binder
	log    *zap.Logger
	lock   *lockout
	checks chan struct{} // a slot per bind check running: MaxBindChecks
	nextID atomic.Uint64

	// Binds the Server refused itself, and lockouts; the Binder counts
	// the binds it refuses.
	bindsLocked, bindsMalformed, lockouts atomic.Uint64

	mu        sync.Mutex // guards the fields below
	listeners map[*net.Listener]struct{}
	sessions  map[*Session]struct{} // every connection, bound or not, until its goroutine ends
	perIP     map[netip.Addr]int    // connections per remote IP
	unbound   list.List             // of *Session: connections not bound yet, oldest first
	unboundIP map[netip.Addr]int    // connections not bound yet, per remote IP
	stats     Stats
	closing   bool          // Shutdown or Close has begun: nothing new starts
	quit      chan struct{} // closed when closing begins
	idle      chan struct{} // closed when closing and sessions is empty
	idleDone  bool          // idle is closed
	full      bool          // at MaxConnections; logged once per episode
}

// NewServer returns a Server that authenticates binds with b.
func NewServer(cfg Config, b Binder) *Server {
	cfg.defaults()
	return &Server{
		cfg:       cfg,
		binder:    b,
		log:       cfg.Logger,
		lock:      newLockout(cfg.BindFailLimit, cfg.BindLockout),
		checks:    make(chan struct{}, cfg.MaxBindChecks),
		listeners: make(map[*net.Listener]struct{}),
		sessions:  make(map[*Session]struct{}),
		perIP:     make(map[netip.Addr]int),
		unboundIP: make(map[netip.Addr]int),
		quit:      make(chan struct{}),
		idle:      make(chan struct{}),
	}
}

// Serve accepts connections on ln until Shutdown or Close, and then
// returns ErrServerClosed; any other error of ln.Accept is returned as is.
// Serve closes ln when it returns. It may be called for several listeners.
func (srv *Server) Serve(ln net.Listener) error {
	defer ln.Close()
	if !srv.track(&ln, true) {
		return ErrServerClosed
	}
	defer srv.track(&ln, false)
	srv.log.Info("listening", zap.Stringer("addr", ln.Addr()))
	var delay time.Duration // back-off after a failed Accept (EMFILE, ...)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if srv.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			srv.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("delay", delay))
			if !srv.wait(delay) {
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		srv.start(nc)
	}
}

// wait sleeps d, or until closing begins; it reports whether it slept.
func (srv *Server) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-srv.quit:
		return false
	}
}

// track adds or removes a listener; it refuses to add one once closing.
func (srv *Server) track(ln *net.Listener, add bool) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !add {
		delete(srv.listeners, ln)
		return true
	}
	if srv.closing {
		return false
	}
	srv.listeners[ln] = struct{}{}
	return true
}

func (srv *Server) isClosing() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closing
}

// start runs a session for nc, or closes nc at once when closing, at
// MaxConnections, at MaxPerIP or at MaxUnboundPerIP. At MaxUnbound it
// closes the oldest connection that has not bound instead of nc: whoever
// holds connections open without binding cannot keep clients that bind
// out, only delay them by a bind.
func (srv *Server) start(nc net.Conn) {
	evicted := srv.admit(nc)
	if evicted != nil {
		evicted.Close(ErrUnboundEvicted)
	}
}

// admit starts nc's session, or closes nc; it returns the unbound session
// to close to make room, if any.
func (srv *Server) admit(nc net.Conn) (evicted *Session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing {
		_ = nc.Close()
		return nil
	}
	if len(srv.sessions) >= srv.cfg.MaxConnections {
		_ = nc.Close()
		srv.stats.RefusedTotal++
		if !srv.full {
			srv.full = true
			srv.log.Warn("connection limit reached; closing new connections", zap.Int("max_connections", srv.cfg.MaxConnections))
		}
		return nil
	}
	if srv.full {
		srv.full = false
		srv.log.Info("below the connection limit again", zap.Int("max_connections", srv.cfg.MaxConnections))
	}
	ip, _ := ipOf(nc.RemoteAddr())
	switch {
	case srv.perIP[ip] >= srv.cfg.MaxPerIP:
		_ = nc.Close()
		srv.stats.RefusedPerIP++
		return nil
	case srv.unboundIP[ip] >= srv.cfg.MaxUnboundPerIP:
		_ = nc.Close()
		srv.stats.RefusedUnboundPerIP++
		return nil
	case srv.unbound.Len() >= srv.cfg.MaxUnbound:
		evicted = srv.unbound.Front().Value.(*Session)
		srv.leaveUnboundLocked(evicted)
		srv.stats.EvictedUnbound++
	}
	srv.perIP[ip]++
	s := newSession(srv, nc, srv.nextID.Add(1))
	s.ip = ip
	s.unboundAt = srv.unbound.PushBack(s)
	srv.unboundIP[ip]++
	srv.sessions[s] = struct{}{}
	go s.serve() // waited for through srv.idle
	return evicted
}

// leaveUnboundLocked takes s out of the unbound counts, once.
func (srv *Server) leaveUnboundLocked(s *Session) {
	if s.unboundAt == nil {
		return
	}
	srv.unbound.Remove(s.unboundAt)
	s.unboundAt = nil
	if srv.unboundIP[s.ip]--; srv.unboundIP[s.ip] <= 0 {
		delete(srv.unboundIP, s.ip)
	}
}

// remove forgets a session whose goroutine is ending.
func (srv *Server) remove(s *Session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.sessions, s)
	if srv.perIP[s.ip]--; srv.perIP[s.ip] <= 0 {
		delete(srv.perIP, s.ip)
	}
	srv.leaveUnboundLocked(s)
	srv.checkIdleLocked()
}

// markBound moves a session from the unbound counts.
func (srv *Server) markBound(s *Session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.leaveUnboundLocked(s)
}

// Stats counts connections the Server refused or ended for a limit, and
// the binds it refused itself.
type Stats struct {
	Connections         int    // open now, bound or not
	Unbound             int    // open now and not bound yet
	RefusedTotal        uint64 // closed at once: max_connections
	RefusedPerIP        uint64 // closed at once: max_connections_per_ip
	RefusedUnboundPerIP uint64 // closed at once: max_unbound_per_ip
	EvictedUnbound      uint64 // closed to make room at max_unbound: the oldest unbound connection
	SlowConsumers       uint64 // bound sessions closed: the client did not read what was sent
	DeadPeers           uint64 // bound sessions closed: the client went silent past enquire_link
	BindsLocked         uint64 // binds refused (ESME_RBINDFAIL) because the remote IP is locked out
	BindsMalformed      uint64 // bind PDUs refused because they did not decode
	Lockouts            uint64 // remote IPs locked out after BindFailLimit failed binds
}

// count records why a bound session was closed.
func (srv *Server) count(cause error) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if errors.Is(cause, ErrSlowConsumer) {
		srv.stats.SlowConsumers++
	} else {
		srv.stats.DeadPeers++
	}
}

// Stats returns the Server's counts.
func (srv *Server) Stats() Stats {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	st := srv.stats
	st.Connections = len(srv.sessions)
	st.Unbound = srv.unbound.Len()
	st.BindsLocked, st.BindsMalformed, st.Lockouts = srv.bindsLocked.Load(), srv.bindsMalformed.Load(), srv.lockouts.Load()
	return st
}

func (srv *Server) checkIdleLocked() {
	if srv.closing && len(srv.sessions) == 0 && !srv.idleDone {
		srv.idleDone = true
		close(srv.idle)
	}
}

// beginClose stops accepting: it closes the listeners and returns the
// sessions running now.
func (srv *Server) beginClose() []*Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !srv.closing {
		srv.closing = true
		close(srv.quit)
	}
	for ln := range srv.listeners {
		_ = (*ln).Close()
	}
	srv.checkIdleLocked()
	out := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		out = append(out, s)
	}
	return out
}

// Shutdown stops accepting, sends unbind to every bound session (each
// closes on its unbind_resp, or after ResponseTimeout capped at 5s), closes
// connections not yet bound, and waits for every session to end. When ctx
// ends first, Shutdown closes what is left as Close does and returns
// ctx.Err(). Either way no goroutine of the server is left when it returns.
func (srv *Server) Shutdown(ctx context.Context) error {
	for _, s := range srv.beginClose() {
		if s.bound.Load() != nil {
			s.Unbind()
		} else {
			s.Close(ErrServerClosed)
		}
	}
	select {
	case <-srv.idle:
		return nil
	case <-ctx.Done():
		_ = srv.Close()
		return ctx.Err()
	}
}

// Close stops accepting, closes every connection at once and waits for
// every session to end (Handler.Closed included).
func (srv *Server) Close() error {
	for _, s := range srv.beginClose() {
		s.Close(ErrServerClosed)
	}
	<-srv.idle
	return nil
}

// Sessions returns the sessions bound now.
func (srv *Server) Sessions() []*Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		if s.bound.Load() != nil {
			out = append(out, s)
		}
	}
	return out
}
