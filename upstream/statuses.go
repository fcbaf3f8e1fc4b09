package upstream

import (
	"sync/atomic"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// statusSlots is how many distinct command_status values a session counts
// apart; a provider answers with a handful. The rest are counted together.
const statusSlots = 32

// statusCounts counts submit_sm_resp by command_status without a lock or
// an allocation: an open-addressed table whose slots are claimed once,
// by CAS, and never freed.
type statusCounts struct {
	key   [statusSlots]atomic.Uint64 // status+1; 0: free
	n     [statusSlots]atomic.Uint64
	other atomic.Uint64 // statuses past the table's room
}

func (c *statusCounts) add(st pdu.Status) {
	k := uint64(st) + 1
	for i, j := 0, int(uint32(st)%statusSlots); i < statusSlots; i, j = i+1, (j+1)%statusSlots {
		switch cur := c.key[j].Load(); {
		case cur == k:
		case cur == 0 && c.key[j].CompareAndSwap(0, k):
		case c.key[j].Load() == k: // another goroutine claimed it for st
		default:
			continue
		}
		c.n[j].Add(1)
		return
	}
	c.other.Add(1)
}

// snapshot returns the counts by status, and those past the table's room.
func (c *statusCounts) snapshot() (map[pdu.Status]uint64, uint64) {
	out := map[pdu.Status]uint64{}
	for j := range c.key {
		if k := c.key[j].Load(); k != 0 {
			out[pdu.Status(k-1)] += c.n[j].Load()
		}
	}
	return out, c.other.Load()
}
