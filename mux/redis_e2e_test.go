package mux_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/store/redis"
)

// Redis restarted mid-run: clients still get their submit_sm_resp, the
// provider gets temporary errors for the receipts it sends meanwhile (and
// sends them again), and once Redis is back every receipt arrives.
func TestRedisRestartLosesNothing(t *testing.T) {
	addr, stop, restart := redistest.Start(t, redistest.AppendOnly())
	h := newHarnessFull(t, fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\ntimeout = \"300ms\"", addr), "", "",
		simtestDeliverTimeout(time.Second))
	c := h.dial("shop", "shop-pw", esme.Options{})
	ids := map[string]bool{}
	submit := func(n int) {
		for i := 0; i < n; i++ {
			st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "redis"))
			if err != nil || st != pdu.StatusOK {
				t.Fatalf("submit: %v %v", st, err)
			}
			ids[id] = true
		}
	}
	submit(10)
	stop()
	submit(10) // Redis down: the ids are kept in memory
	eventually(t, 10*time.Second, func() bool { return h.mux.Metrics().Snapshot().StoreErrors > 0 })
	restart()
	// At least once: a write Redis applied but did not acknowledge in time
	// is answered ESME_RX_T_APPN, and the provider's resend is a duplicate.
	got := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 20 && time.Now().Before(deadline) {
		for _, id := range collect(t, c, 1, time.Until(deadline)) {
			if !ids[id] {
				t.Fatalf("unexpected receipt %s", id)
			}
			got[id] = true
		}
	}
	if len(got) != 20 {
		t.Fatalf("%d distinct receipts of 20", len(got))
	}
}
