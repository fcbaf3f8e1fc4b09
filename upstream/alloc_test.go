//go:build !race

package upstream

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Counting an answer by status is on the per-PDU path: no allocation.
func TestStatusCountsAllocs(t *testing.T) {
	var c statusCounts
	if n := testing.AllocsPerRun(1000, func() { c.add(pdu.StatusThrottled) }); n != 0 {
		t.Fatalf("statusCounts.add: %v allocs/op, want 0", n)
	}
}
