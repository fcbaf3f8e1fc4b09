package mux

import (
	"hash/maphash"
	"sync"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// recentReports remembers the last reports stored, by a hash of their
// client and body (the header, whose sequence number changes, left out).
// The provider resends a report whose deliver_sm_resp it did not get: the
// connection dropped after the mux stored it but before the answer went
// out, or the mux restarted gracefully. A resend this process has stored
// already is answered, not stored again, so the client does not get it
// twice. Resends across a crash, or after a store write that failed but
// took effect, are not caught: delivery stays at least once.
type recentReports struct {
	mu   sync.Mutex // guards seen, ring, next
	seen map[uint64]struct{}
	ring []uint64 // insertion order; the oldest is evicted
	next int
}

// recentReportsSize bounds the memory: 16 bytes and a map slot a report,
// about 10 MB when full. It must cover the reports stored within the
// provider's resend timeout (30 s): 2^18 is 8,700 receipts a second for
// 30 s, where 2^16 was 2,200, under the receipts the mux stores at full
// speed. The map grows with the traffic; it is not sized up front.
const recentReportsSize = 1 << 18

var reportSeed = maphash.MakeSeed()

func reportKey(client string, frame []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(reportSeed)
	h.WriteString(client)
	h.WriteByte(0)
	h.Write(frame[pdu.HeaderLen:])
	return h.Sum64()
}

func (rr *recentReports) has(k uint64) bool {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	_, ok := rr.seen[k]
	return ok
}

func (rr *recentReports) add(k uint64) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.seen == nil {
		rr.seen = make(map[uint64]struct{})
		rr.ring = make([]uint64, recentReportsSize)
	}
	if _, ok := rr.seen[k]; ok {
		return
	}
	if old := rr.ring[rr.next]; old != 0 {
		delete(rr.seen, old)
	}
	rr.ring[rr.next] = k
	rr.next = (rr.next + 1) % len(rr.ring)
	rr.seen[k] = struct{}{}
}
