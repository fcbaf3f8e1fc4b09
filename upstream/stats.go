package upstream

import (
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// LatencyBuckets are the upper bounds of the submit_sm round-trip
// histogram each Session keeps.
var LatencyBuckets = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// latency is a fixed-bucket histogram of submit_sm round trips, updated
// with atomics on the read goroutine and read by metrics scrapes.
type latency struct {
	counts [14]atomic.Uint64 // one per bucket, and +Inf
	sum    atomic.Int64      // nanoseconds
}

func (l *latency) observe(d time.Duration) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	l.counts[i].Add(1)
	l.sum.Add(int64(d))
}

// SessionStats are a Session's counters since the Pool started.
type SessionStats struct {
	Binds      uint64        // connections that bound; above 1, reconnects
	Latency    []uint64      // submit_sm round trips per bucket of LatencyBuckets, cumulative, last is the total
	LatencySum time.Duration // of all round trips
	// Responses counts the provider's submit_sm_resp by command_status
	// (a generic_nack as its status); OtherResponses those whose status
	// came after 32 others.
	Responses      map[pdu.Status]uint64
	OtherResponses uint64
}

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats {
	st := SessionStats{Binds: s.binds.Load(), LatencySum: time.Duration(s.lat.sum.Load()), Latency: make([]uint64, len(s.lat.counts))}
	var cum uint64
	for i := range s.lat.counts {
		cum += s.lat.counts[i].Load()
		st.Latency[i] = cum
	}
	st.Responses, st.OtherResponses = s.responses.snapshot()
	return st
}
