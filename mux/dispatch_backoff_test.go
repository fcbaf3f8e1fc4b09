package mux_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// A client that answers its receipt with an error gets it again after a
// back-off that doubles (1 s, 2 s, 4 s, ...), not at once in a loop; each
// refusal is counted by status, and once the client takes it the entry
// leaves the queue.
func TestRefusedDeliveryBacksOff(t *testing.T) {
	h := newHarness(t, "")
	var offered atomic.Int64
	var accept atomic.Bool
	c := h.dial("shop", "shop-pw", esme.Options{Ack: func([]byte) pdu.Status {
		offered.Add(1)
		if accept.Load() {
			return pdu.StatusOK
		}
		return pdu.StatusSysErr // its database is down
	}})
	if st, _, err := c.Submit(ctxT(t), sm("4599999999", true, "refused")); err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	time.Sleep(4500 * time.Millisecond) // offered at 0, ~1 s, ~3 s: about 3 times; at once again, thousands
	n := offered.Load()
	if n < 2 || n > 4 {
		t.Fatalf("offered %d times in 4.5 s, want 2 to 4 with a back-off of 1 s doubling", n)
	}
	if got := h.mux.ClientCounters()["shop"].Refused[pdu.StatusSysErr]; got != uint64(n) {
		t.Errorf("refusals counted %d, want %d", got, n)
	}
	accept.Store(true)
	if ids := collect(t, c, 1, 10*time.Second); len(ids) != 1 {
		t.Fatal("not delivered once accepted")
	}
	eventually.That(t, 5*time.Second, `h.mux.Queued("shop") == 0`, func() bool { return h.mux.Queued("shop") == 0 })
}
