package mux

import (
	"context"
	"crypto/subtle"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/smpp-mux/smpp-mux/downstream"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// client is one configured [[client]] while the mux runs: its config, its
// rule chain and its bound sessions.
type client struct {
	id   string                     // system_id; never changes
	conf atomic.Pointer[clientConf] // swapped by Reload
	wake chan struct{}              // cap 1: its queue may have something to deliver
	stop context.CancelFunc         // ends its dispatcher

	inflight atomic.Int64   // submits of all its sessions in upstream windows
	dmsg     module.Message // owned by the client's dispatcher goroutine
	stats    clientStats
	refusals refusals // entries the client refused, waiting for their back-off

	// backlog: its store queue may hold entries for Fetch. The Intake
	// hands over none while it is set (handoffPlan); the dispatcher
	// fetches only while it is set, when the store leases what it
	// enqueues. Whatever makes entries fetchable sets it: reports stored
	// unleased, releases, another instance's enqueue (a wake-up), the
	// matcher, and the dispatcher's poll (leases that ran out).
	backlog atomic.Bool
	hmu     sync.Mutex    // guards handed
	handed  []store.Entry // stored leased by the Intake for the dispatcher (dispatch_handoff.go)
	hbuf    []store.Entry // owned by the client's dispatcher goroutine: entries taken from handed

	mu       sync.Mutex // guards sessions
	sessions []*binding
	rr       atomic.Uint32 // round-robin over sessions for deliveries
}

// clientConf is what a config says about a client: read per bind and per
// submit, replaced whole by Reload.
type clientConf struct {
	cfg      ClientConfig
	rules    chain
	delivers deliverChain
	gen      *ruleGen // the rules' generation: run them between gen.enter and gen.leave
}

func newClientConf(cfg ClientConfig, gen *ruleGen) *clientConf {
	cc := &clientConf{cfg: cfg, gen: gen}
	for _, m := range cfg.Rules {
		if r, ok := m.(module.Rule); ok {
			cc.rules = append(cc.rules, r)
		}
		if r, ok := m.(module.DeliverRule); ok && wantsDeliver(r) {
			cc.delivers = append(cc.delivers, r)
		}
	}
	return cc
}

// wantsDeliver reports whether r goes in the deliver chain: yes, unless
// it is a DeliverOptional that says no.
func wantsDeliver(r module.DeliverRule) bool {
	o, ok := r.(module.DeliverOptional)
	return !ok || o.WantsDeliver()
}

func newClient(cfg ClientConfig, gen *ruleGen) *client {
	c := &client{id: cfg.SystemID, wake: make(chan struct{}, 1)}
	c.backlog.Store(true) // until its dispatcher has looked
	c.conf.Store(newClientConf(cfg, gen))
	return c
}

// notify wakes the client's dispatcher.
func (c *client) notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// checkPassword compares in constant time (bcrypt is constant time too).
func (cc *clientConf) checkPassword(pw string) bool {
	if cc.cfg.PasswordHash != "" {
		return bcrypt.CompareHashAndPassword([]byte(cc.cfg.PasswordHash), []byte(pw)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(cc.cfg.Password), []byte(pw)) == 1
}

// allowed reports whether the client may bind from addr.
func (cc *clientConf) allowed(addr net.Addr) bool {
	if len(cc.cfg.allow) == 0 {
		return true
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range cc.cfg.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// add records a new binding unless max_binds is reached.
func (c *client) add(b *binding) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.conf.Load().cfg.MaxBinds {
		return false
	}
	c.sessions = append(c.sessions, b)
	return true
}

func (c *client) remove(b *binding) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.sessions {
		if s == b {
			c.sessions = append(c.sessions[:i], c.sessions[i+1:]...)
			return
		}
	}
}

// receivers returns the bound sessions that take deliver_sm, starting at
// the next one in round-robin order.
func (c *client) receivers(dst []*binding) []*binding {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.sessions)
	if n == 0 {
		return dst
	}
	start := int(c.rr.Add(1)) % n
	for i := 0; i < n; i++ {
		b := c.sessions[(start+i)%n]
		if b.receiver {
			dst = append(dst, b)
		}
	}
	return dst
}

// Bind implements downstream.Binder: it authenticates a client.
func (m *Mux) Bind(s *downstream.Session, req downstream.BindRequest) (downstream.Handler, pdu.Status) {
	c := m.live.Load().byID[req.SystemID]
	// The session's logger: named for the downstream side, with the
	// session and remote of every line about it.
	log := s.Logger().WithLazy(zap.String("system_id", req.SystemID), zap.Stringer("bind_type", req.Type)) // encoded only if a line is written
	refused := &m.metrics.bindsRefused
	if c == nil {
		refused[refusedUnknownSystemID].Add(1)
		log.Info("bind refused: unknown system_id")
		return nil, pdu.StatusInvSystemID
	}
	cc := c.conf.Load()
	switch {
	case !cc.checkPassword(req.Password):
		refused[refusedWrongPassword].Add(1)
		c.stats.bindsRefused[refusedWrongPassword].Add(1)
		log.Info("bind refused: wrong password")
		return nil, pdu.StatusInvPassword
	case !cc.allowed(req.Remote):
		refused[refusedNotAllowed].Add(1)
		c.stats.bindsRefused[refusedNotAllowed].Add(1)
		log.Info("bind refused: remote address not in allow")
		return nil, pdu.StatusInvPassword
	}
	b := &binding{r: m.router, d: m.dispatcher, fleet: m.fleet, c: c, s: s, receiver: req.Type.CanReceive()}
	if !c.add(b) || !m.fleet.bind(c, b, cc.cfg.MaxBinds) {
		refused[refusedMaxBinds].Add(1)
		c.stats.bindsRefused[refusedMaxBinds].Add(1)
		log.Info("bind refused: max_binds reached", maxBindsField(cc.cfg.MaxBinds))
		return nil, pdu.StatusAlreadyBound
	}
	m.metrics.binds.Add(1)
	return b, pdu.StatusOK
}
