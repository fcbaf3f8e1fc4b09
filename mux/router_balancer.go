package mux

import (
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/balancer"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/upstream"
)

// pick chooses a session, honouring concatenation affinity.
func (rt *Router) pick(now time.Time, key uint64, hasKey bool) *upstream.Session {
	if hasKey {
		if s := rt.affinity.get(key, now); s != nil {
			if s.Available(now) {
				return s
			}
			if s.State() == upstream.StateBound && !s.Throttled(now) {
				return nil // wait for room on the same session
			}
		}
	}
	up := rt.up.Load()
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
	bal  balancer.Balancer
	pace *pacer
}

// newUpPool makes the upstream side of cfg; h takes the provider's
// deliver_sm. gate, when not nil, holds fleet_max_sessions; f, when not
// nil, shares max_rate over the fleet. Its balancer is provisioned in
// rctx, the Context of the config's rules, so that it is cleaned up with
// them.
func newUpPool(cfg *Config, log *zap.Logger, h upstream.Handler, gate upstream.Gate, f *fleet, rctx module.Context) (*upPool, error) {
	ucfg, err := upstreamConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	bal, err := loadBalancer(rctx, cfg.Upstream)
	if err != nil {
		return nil, err
	}
	ucfg.Gate = gate
	p, err := upstream.NewPool(ucfg, h)
	if err != nil {
		return nil, err
	}
	return &upPool{cfg: cfg.Upstream, pool: p, bal: bal, pace: fleetPacer(f, cfg.Upstream)}, nil
}

// loadBalancer provisions the balancer module the loader decoded from
// [upstream] balancer in ctx, the Context of the config it belongs to.
func loadBalancer(ctx module.Context, u UpstreamConfig) (balancer.Balancer, error) {
	bal, ok := u.balancer.(balancer.Balancer)
	if !ok {
		return nil, fmt.Errorf("upstream.balancer: no balancer module decoded for %q", u.Balancer)
	}
	if err := ctx.LoadModule(bal.MuxModule().ID, bal); err != nil {
		return nil, fmt.Errorf("upstream.balancer: %w", err)
	}
	return bal, nil
}
