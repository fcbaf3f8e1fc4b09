package mux

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/upstream"
)

// Balancer is a module (namespace "balancer", chosen by
// [upstream].balancer) that picks the upstream session for a submit. The
// router calls Pick on a client session's read goroutine, concurrently for
// many clients; Pick returns a session that is Available(now), or nil when
// none is. sessions, which Pick must not modify, lists every session of
// the pool, those a reload is starting or draining too (they are not
// Available). Parts of one concatenated message stick to the session that
// took the first part whatever the balancer, so Pick sees only first parts
// and single messages.
type Balancer interface {
	module.Module
	Pick(now time.Time, sessions []*upstream.Session) *upstream.Session
}

func init() {
	module.Register(new(LeastPending))
	module.Register(new(RoundRobin))
}

// LeastPending is balancer.least_pending, the default: the available
// session (bound, not throttled, with window room) with the fewest submits
// waiting for the provider, round-robin among equals. A slow host gets
// less traffic by itself.
type LeastPending struct {
	rr atomic.Uint32
}

// MuxModule implements Module.
func (*LeastPending) MuxModule() module.Info {
	return module.Info{ID: "balancer.least_pending", New: func() module.Module { return new(LeastPending) },
		Doc: "the available upstream session with the fewest pending submits (default)"}
}

// Pick implements Balancer.
func (bl *LeastPending) Pick(now time.Time, sessions []*upstream.Session) *upstream.Session {
	n := len(sessions)
	if n == 0 {
		return nil
	}
	start := int(bl.rr.Add(1)) % n
	var best *upstream.Session
	bestPending := 0
	for i := 0; i < n; i++ {
		s := sessions[(start+i)%n]
		if !s.Available(now) {
			continue
		}
		if p := s.Pending(); best == nil || p < bestPending {
			best, bestPending = s, p
		}
	}
	return best
}

// RoundRobin is balancer.round_robin: the next available session in
// turn, whatever its load; it spreads messages evenly over the binds.
type RoundRobin struct {
	rr atomic.Uint32
}

// MuxModule implements Module.
func (*RoundRobin) MuxModule() module.Info {
	return module.Info{ID: "balancer.round_robin", New: func() module.Module { return new(RoundRobin) },
		Doc: "the next available upstream session in turn"}
}

// Pick implements Balancer.
func (bl *RoundRobin) Pick(now time.Time, sessions []*upstream.Session) *upstream.Session {
	n := len(sessions)
	start := int(bl.rr.Add(1))
	for i := 0; i < n; i++ {
		if s := sessions[(start+i)%n]; s.Available(now) {
			return s
		}
	}
	return nil
}

// pick chooses a session, honouring concatenation affinity.
func (m *Mux) pick(now time.Time, key uint64, hasKey bool) *upstream.Session {
	if hasKey {
		if s := m.affinity.get(key, now); s != nil {
			if s.Available(now) {
				return s
			}
			if s.State() == upstream.StateBound && !s.Throttled(now) {
				return nil // wait for room on the same session
			}
		}
	}
	up := m.up.Load()
	return up.bal.Pick(now, up.pool.Sessions())
}

var concatSeed = maphash.MakeSeed()

// concatKey identifies the concatenated message a submit_sm belongs to:
// client, destination and reference. ok is false for a single message.
func concatKey(client string, info *pdu.SubmitInfo) (uint64, bool) {
	ref := info.Concat
	if !info.IsConcat || ref.Total < 2 {
		return 0, false
	}
	dest := info.DestAddr
	var h maphash.Hash
	h.SetSeed(concatSeed)
	h.WriteString(client)
	h.WriteByte(0)
	h.Write(dest)
	h.WriteByte(byte(ref.Ref >> 8))
	h.WriteByte(byte(ref.Ref))
	h.WriteByte(ref.Total)
	return h.Sum64(), true
}

// affinity remembers which session took the parts of a concatenated
// message, for affinityTTL.
type affinity struct {
	mu sync.Mutex // guards m
	m  map[uint64]affinityEntry
}

type affinityEntry struct {
	s       *upstream.Session
	expires time.Time
}

const affinityTTL = 2 * time.Minute

func (a *affinity) get(key uint64, now time.Time) *upstream.Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[key]
	if !ok || now.After(e.expires) {
		return nil
	}
	return e.s
}

func (a *affinity) set(key uint64, s *upstream.Session, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[uint64]affinityEntry)
	}
	if len(a.m) >= 4096 {
		for k, e := range a.m {
			if now.After(e.expires) {
				delete(a.m, k)
			}
		}
	}
	a.m[key] = affinityEntry{s: s, expires: now.Add(affinityTTL)}
}

// upPool is the upstream side of the [upstream] config: the pool, its
// balancer and its max_rate pacer. The pool lives as long as the mux; a
// reload moves its sessions to new settings (upstream.Pool.Reconfigure),
// and swaps in a new upPool with the new balancer and pacer.
type upPool struct {
	cfg  UpstreamConfig
	pool *upstream.Pool
	bal  Balancer
	pace *pacer
}

func (m *Mux) newUpPool(cfg *Config) (*upPool, error) {
	ucfg, err := upstreamConfig(cfg, m.log)
	if err != nil {
		return nil, err
	}
	p, err := upstream.NewPool(ucfg, m)
	if err != nil {
		return nil, err
	}
	bal, err := newBalancer(cfg.Upstream.Balancer)
	if err != nil {
		return nil, err
	}
	return &upPool{cfg: cfg.Upstream, pool: p, bal: bal, pace: newPacer(cfg.Upstream.MaxRate)}, nil
}

// newBalancer makes the balancer module balancer.<name>.
func newBalancer(name string) (Balancer, error) {
	mi, ok := module.Get("balancer." + name)
	if !ok {
		return nil, fmt.Errorf("upstream.balancer: unknown module %q", name)
	}
	bal, ok := mi.New().(Balancer)
	if !ok {
		return nil, fmt.Errorf("upstream.balancer: module %s is not a balancer", mi.ID)
	}
	return bal, nil
}
