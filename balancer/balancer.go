package balancer

import (
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/module"
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

// Default is the name of the balancer used when [upstream] names none.
const Default = "least_pending"

func init() {
	module.Register(new(LeastPending))
	module.Register(new(RoundRobin))
}

var (
	_ Balancer = (*LeastPending)(nil)
	_ Balancer = (*RoundRobin)(nil)
)

// LeastPending is balancer.least_pending, the default: the available
// session (bound, not throttled, with window room) with the fewest submits
// waiting for the provider, round-robin among equals. A slow host gets
// less traffic by itself.
type LeastPending struct {
	rr atomic.Uint32
}

// MuxModule implements module.Module.
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

// MuxModule implements module.Module.
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
