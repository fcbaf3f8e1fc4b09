package mux

import (
	"crypto/subtle"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/smpp-mux/smpp-mux/downstream"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// client is one configured [[client]] while the mux runs: its config, its
// rule chain and its bound sessions.
type client struct {
	cfg   ClientConfig
	rules chain
	wake  chan struct{} // cap 1: its queue may have something to deliver

	mu       sync.Mutex // guards sessions
	sessions []*binding
	rr       atomic.Uint32 // round-robin over sessions for deliveries
}

func newClient(cfg ClientConfig) *client {
	c := &client{cfg: cfg, wake: make(chan struct{}, 1)}
	for _, m := range cfg.Rules {
		if r, ok := m.(Rule); ok {
			c.rules = append(c.rules, r)
		}
	}
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
func (c *client) checkPassword(pw string) bool {
	if c.cfg.PasswordHash != "" {
		return bcrypt.CompareHashAndPassword([]byte(c.cfg.PasswordHash), []byte(pw)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(c.cfg.Password), []byte(pw)) == 1
}

// allowed reports whether the client may bind from addr.
func (c *client) allowed(addr net.Addr) bool {
	if len(c.cfg.allow) == 0 {
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
	for _, p := range c.cfg.allow {
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
	if len(c.sessions) >= c.cfg.MaxBinds {
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
	c := m.clients.Load().byID[req.SystemID]
	log := m.log.With(sessionFields(s, req)...)
	switch {
	case c == nil:
		log.Info("bind refused: unknown system_id")
		return nil, pdu.StatusInvSystemID
	case !c.checkPassword(req.Password):
		log.Info("bind refused: wrong password")
		return nil, pdu.StatusInvPassword
	case !c.allowed(req.Remote):
		log.Info("bind refused: remote address not in allow")
		return nil, pdu.StatusInvPassword
	}
	b := &binding{m: m, c: c, s: s, receiver: req.Type.CanReceive()}
	if !c.add(b) {
		log.Info("bind refused: max_binds reached", maxBindsField(c.cfg.MaxBinds))
		return nil, pdu.StatusAlreadyBound
	}
	m.metrics.binds.Add(1)
	return b, pdu.StatusOK
}
