package mux

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// A client that answers a deliver_sm with an error (its database is down:
// 0x08, 0x64) gets that entry again only after a back-off that doubles per
// refusal, from refusedFirst up to refusedMax (or the lease, if shorter,
// after which the store offers the entry again anyway). Without it, a
// refused entry was released and delivered again at once: tens of
// thousands of redeliveries a second, and the other tenants' receipts
// slowed down by the mux's CPU. Timeouts and closed sessions are not
// refusals: they are released at once as before.
const (
	refusedFirst = time.Second
	refusedMax   = time.Minute
	maxRefused   = 1 << 14 // entries whose refusals a client remembers; past it, the longest back-off
)

// refusals holds one client's refused entries and when each is
// delivered again. Its methods are safe for concurrent use.
type refusals struct {
	count atomic.Int64 // len(n): acked skips the lock while nothing was refused

	mu      sync.Mutex           // guards n, due
	n       map[string]int       // entry id -> refusals so far
	due     map[string]time.Time // entry id -> when it is released
	nextDue time.Time            // the earliest of due; zero when none
}

// refused records a refusal of entry id and returns its back-off.
func (r *refusals) refused(id string, now time.Time, limit time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n, r.due = map[string]int{}, map[string]time.Time{}
	}
	n, known := r.n[id]
	wait := refusedMax
	if known || len(r.n) < maxRefused {
		wait = refusedFirst << min(n, 6)
		r.n[id] = n + 1
		r.count.Store(int64(len(r.n)))
	}
	wait = min(wait, refusedMax, limit)
	at := now.Add(wait)
	r.due[id] = at
	if r.nextDue.IsZero() || at.Before(r.nextDue) {
		r.nextDue = at
	}
	return wait
}

// acked forgets entry id: it was delivered. It is on the path of every
// acknowledgement: without refusals it costs one atomic load.
func (r *refusals) acked(id string) {
	if r.count.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.n, id)
	delete(r.due, id)
	r.count.Store(int64(len(r.n)))
}

// takeDue returns the entries whose back-off has run out.
func (r *refusals) takeDue(now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nextDue.IsZero() || now.Before(r.nextDue) {
		return nil
	}
	var out []string
	r.nextDue = time.Time{}
	for id, at := range r.due {
		if !now.Before(at) {
			out = append(out, id)
			delete(r.due, id)
		} else if r.nextDue.IsZero() || at.Before(r.nextDue) {
			r.nextDue = at
		}
	}
	return out
}

// releaseRefused releases the client's refused entries whose back-off has
// run out, so that the dispatcher delivers them again. It runs on the
// client's dispatcher goroutine.
func (d *Dispatcher) releaseRefused(ctx context.Context, c *client) {
	ids := c.refusals.takeDue(time.Now())
	if len(ids) == 0 {
		return
	}
	c.backlog.Store(true)
	if err := d.store.Release(ctx, c.id, ids); err != nil && ctx.Err() == nil {
		// The lease runs out instead; the entries come back then.
		d.log.Warn("cannot release refused entries", zap.String("system_id", c.id), zap.Error(err))
	}
}
