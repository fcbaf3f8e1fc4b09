package mux

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/smpp-mux/smpp-mux/store"
)

// fairShare shares scarce upstream capacity between clients by weight.
// While no submit waits, it costs one atomic load. Once submits wait for
// room (the upstream windows are full, or max_rate holds them back), a
// client may take room only when no waiting client has a smaller share:
// its submits in flight upstream divided by its weight. So one client
// flooding cannot starve the others; each keeps at least its weighted
// share of the windows.
type fairShare struct {
	nwaiting atomic.Int32 // submits waiting, over all clients

	mu      sync.Mutex // guards waiting, changed
	waiting map[*client]int
	changed chan struct{} // closed and replaced when a waiter leaves
}

func (f *fairShare) enter(c *client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting == nil {
		f.waiting = map[*client]int{}
	}
	f.waiting[c]++
	f.nwaiting.Add(1)
}

func (f *fairShare) leave(c *client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting[c]--; f.waiting[c] <= 0 {
		delete(f.waiting, c)
	}
	f.nwaiting.Add(-1)
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// wake returns a channel closed when a waiter leaves.
func (f *fairShare) wake() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

// mayGo reports whether c may take upstream room now.
func (f *fairShare) mayGo(c *client) bool {
	if f.nwaiting.Load() == 0 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	mine := c.share()
	for w := range f.waiting {
		if w != c && w.share() < mine {
			return false
		}
	}
	return true
}

// share is the client's submits in flight upstream per unit of weight.
func (c *client) share() float64 {
	w := c.conf.Load().cfg.Weight
	if w <= 0 {
		w = 1
	}
	return float64(c.inflight.Load()) / float64(w)
}

// pacer spaces submits to stay under [upstream].max_rate rather than run
// into the provider's ESME_RTHROTTLED. A nil pacer lets everything pass.
type pacer struct {
	lim    *rate.Limiter
	period time.Duration // one token's worth of time
	fleet  *store.Bucket // with a shared store: the fleet's bucket, in place of lim (fleet.go)
}

func newPacer(perSecond float64) *pacer {
	if perSecond <= 0 {
		return nil
	}
	burst := max(1, int(perSecond/10)) // a tenth of a second's worth
	return &pacer{lim: rate.NewLimiter(rate.Limit(perSecond), burst), period: time.Duration(float64(time.Second) / perSecond)}
}

// allow takes a token if one is there; else it returns how long to wait.
func (p *pacer) allow() (bool, time.Duration) {
	if p == nil {
		return true, 0
	}
	if p.fleet != nil {
		if p.fleet.Allow() {
			return true, 0
		}
		return false, p.period
	}
	if p.lim.Allow() {
		return true, 0
	}
	return false, p.period
}
