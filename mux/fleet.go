package mux

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/upstream"
)

// Fleet-wide limits. When the store is shared (store.FleetLimiter, i.e.
// store.redis), the limits an operator sets for one mux hold for every
// instance on that store together:
//
//   - a client's max_binds is a semaphore "binds:<system_id>" whose slots
//     are the client's binds on every instance;
//   - [upstream] fleet_max_sessions is a semaphore
//     "sessions:<upstream system_id>" whose slots are provider binds;
//   - [upstream] max_rate and the rate_limit rule are GCRA buckets
//     ("upstream:<system_id>", "rule:<client>:<position>") drawn from in
//     batches (store.Bucket).
//
// Each instance renews the slots it holds every fleetHeartbeat; a slot
// not renewed for fleetTTL (the instance died) expires. A call on a bind
// or submit path is bounded by fleetTimeout; an upstream session, which
// no client waits for, waits up to fleetGateTimeout for its slot, so that
// a slow store does not open provider binds beyond the cap. When the
// store fails, each instance enforces its own configured limits, as
// without a shared store: binds are counted locally (and their slots
// added in the store when it is back), buckets answer locally, provider
// binds open; the failure is logged once per interval with a count.
const (
	fleetHeartbeat   = time.Second
	fleetTTL         = 3 * fleetHeartbeat
	fleetTimeout     = 250 * time.Millisecond
	fleetGateTimeout = 2 * time.Second
)

// fleet holds this instance's slots of the fleet's semaphores and makes
// its buckets. A nil *fleet (the store is not shared) does nothing.
type fleet struct {
	fl   store.FleetLimiter
	log  *zap.Logger
	errs *repeatLog
	name string        // this instance's random name: the prefix of its slot ids
	seq  atomic.Uint64 // the last slot id's number

	mu   sync.Mutex // guards held
	held map[store.Lease]struct{}
}

// newFleet returns the fleet of st, or nil when st is not shared.
func newFleet(st store.Store, log *zap.Logger) *fleet {
	fl, ok := st.(store.FleetLimiter)
	if !ok {
		return nil
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &fleet{fl: fl, log: log, errs: newRepeatLog(log, 10*time.Second),
		name: hex.EncodeToString(b[:]), held: make(map[store.Lease]struct{})}
}

// failed logs a failed store call, once per interval with a count. A
// closed store (the mux is stopping) is not worth a line.
func (f *fleet) failed(err error) {
	if !errors.Is(err, store.ErrClosed) {
		f.errs.log("fleet limits: the store failed; enforcing this instance's own limits meanwhile", err)
	}
}

// acquire takes a slot of semaphore key, of limit slots over the fleet,
// waiting for the store up to timeout. ok is false when the fleet holds
// them all. When the store fails the
// slot is held anyway (this instance's own limit applies) and is added in
// the store by the heartbeat once it is back.
func (f *fleet) acquire(key string, limit int, timeout time.Duration) (store.Lease, bool) {
	l := store.Lease{Key: key, ID: f.name + "-" + strconv.FormatUint(f.seq.Add(1), 10)}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	ok, err := f.fl.AcquireSlot(ctx, l, limit, fleetTTL)
	cancel()
	if err != nil {
		f.failed(err)
		ok = true
	}
	if ok {
		f.mu.Lock()
		f.held[l] = struct{}{}
		f.mu.Unlock()
	}
	return l, ok
}

// release gives a slot back. When the store fails the slot expires
// within fleetTTL, as it is no longer renewed.
func (f *fleet) release(l store.Lease) {
	f.mu.Lock()
	delete(f.held, l)
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), fleetTimeout)
	defer cancel()
	if err := f.fl.ReleaseSlots(ctx, []store.Lease{l}); err != nil {
		f.failed(err)
	}
}

// heartbeat renews every held slot each fleetHeartbeat until ctx ends.
func (f *fleet) heartbeat(ctx context.Context) {
	t := time.NewTicker(fleetHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		ls := make([]store.Lease, 0, len(f.held))
		for l := range f.held {
			ls = append(ls, l)
		}
		f.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, fleetHeartbeat)
		if err := f.fl.RenewSlots(rctx, ls, fleetTTL); err != nil && ctx.Err() == nil {
			f.failed(err)
		}
		cancel()
	}
}

// bucket returns the fleet's bucket key of rate per second and burst.
func (f *fleet) bucket(key string, rate float64, burst int) *store.Bucket {
	return store.NewBucket(f.fl, key, rate, burst, fleetTimeout, f.failed)
}

// FleetBucket implements module.BucketPlace: the fleet's bucket of the
// rule at p, when the store is shared.
func (p rulePlace) FleetBucket(rate float64, burst int) module.TokenBucket {
	if p.fleet == nil {
		return nil
	}
	return p.fleet.bucket("rule:"+p.client+":"+strconv.Itoa(p.pos), rate, burst)
}

// bind takes a slot of the client's max_binds over the fleet for b,
// which c.add has already counted here; refused, it takes b out again.
func (f *fleet) bind(c *client, b *binding, maxBinds int) bool {
	if f == nil {
		return true
	}
	l, ok := f.acquire("binds:"+c.id, maxBinds, fleetTimeout)
	if !ok {
		c.remove(b)
		return false
	}
	b.lease = l
	return true
}

// unbind gives back b's slot of max_binds.
func (f *fleet) unbind(b *binding) {
	if f != nil && b.lease.Key != "" {
		f.release(b.lease)
	}
}

// fleetPacer is newPacer for u, drawing from the fleet's bucket of the
// upstream account when the store is shared (f is not nil).
func fleetPacer(f *fleet, u UpstreamConfig) *pacer {
	p := newPacer(u.MaxRate)
	if p != nil && f != nil {
		p.fleet = f.bucket("upstream:"+u.SystemID, u.MaxRate, p.lim.Burst())
	}
	return p
}

// sessionGate is the upstream.Gate of fleet_max_sessions: a semaphore of
// provider binds over the fleet. A slot that finds it full tries again
// every fleetHeartbeat; the instance logs that once per wait.
type sessionGate struct {
	f       *fleet
	conf    atomic.Pointer[gateConf] // replaced by a reload
	waiting atomic.Int32             // slots waiting for a place; the first logs
}

type gateConf struct {
	key   string
	limit int // 0: no cap
}

// upstreamGate returns the gate of fleet_max_sessions, or nil when the
// store is not shared. It is one gate for the mux's life, so that a
// reload keeps the upstream sessions' config alike; setGate gives it
// each config's key and cap.
func (m *Mux) upstreamGate() upstream.Gate {
	if m.gate == nil {
		return nil
	}
	return m.gate
}

// setGate makes the gate, at the first call, and sets its key and cap
// from u.
func (m *Mux) setGate(u UpstreamConfig) {
	if m.fleet == nil {
		if u.FleetMaxSessions > 0 {
			m.log.Warn("upstream.fleet_max_sessions needs a store that instances share ([store] module = \"redis\"); ignored")
		}
		return
	}
	if m.gate == nil {
		m.gate = &sessionGate{f: m.fleet}
	}
	m.gate.conf.Store(&gateConf{key: "sessions:" + u.SystemID, limit: u.FleetMaxSessions})
}

// Acquire implements upstream.Gate.
func (g *sessionGate) Acquire(ctx context.Context) (func(), error) {
	var t *time.Timer
	waiting := false
	defer func() {
		if waiting {
			g.waiting.Add(-1)
		}
		if t != nil {
			t.Stop()
		}
	}()
	for {
		gc := g.conf.Load()
		if gc.limit <= 0 {
			return func() {}, nil
		}
		if l, ok := g.f.acquire(gc.key, gc.limit, fleetGateTimeout); ok {
			return func() { g.f.release(l) }, nil
		}
		if !waiting {
			waiting = true
			if g.waiting.Add(1) == 1 {
				g.f.log.Info("upstream.fleet_max_sessions reached across the fleet; waiting for a place", zap.Int("fleet_max_sessions", gc.limit))
			}
			t = time.NewTimer(fleetHeartbeat)
		} else {
			t.Reset(fleetHeartbeat)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
