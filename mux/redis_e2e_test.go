package mux_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
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
	eventually.That(t, 10*time.Second, "h.mux.Metrics().Snapshot().StoreErrors > 0", func() bool { return h.mux.Metrics().Snapshot().StoreErrors > 0 })
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

// Two instances share Redis. Ids instance a could not store while Redis
// was down are written to Redis once it is back, so the receipts for them
// that the provider sends to instance b (orphaned there at first) reach
// the client bound to a. Before, the ids stayed in a's memory and b kept
// those receipts in the orphan queue for good.
func TestRedisOutageIDsReachOtherInstance(t *testing.T) {
	addr, stop, restart := redistest.Start(t, redistest.AppendOnly())
	conf := harnessConf{
		store:  fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\ntimeout = \"300ms\"", addr),
		server: `dlr_grace = "100ms"`,
	}
	a := newHarnessConf(t, conf, simtest.DLRDelay(time.Hour))
	b := newHarnessConf(t, conf, simtest.DLRDelay(time.Hour), simtestDeliverTimeout(time.Second))
	c := a.dial("shop", "shop-pw", esme.Options{})
	stop()
	const n = 5
	var ids []string
	for range n {
		st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "outage"))
		if err != nil || st != pdu.StatusOK {
			t.Fatalf("submit while Redis is down: %v %v", st, err)
		}
		ids = append(ids, id)
	}
	restart()
	for _, id := range ids {
		if err := b.sim.InjectReceipt("acct", id); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	got := map[string]bool{} // at least once: a duplicate may come
	for deadline := time.Now().Add(30 * time.Second); len(got) < n; {
		id := collect(t, c, 1, time.Until(deadline))[0]
		if !want[id] {
			t.Fatalf("unexpected receipt %s", id)
		}
		got[id] = true
	}
	// An id whose write Redis applied while the mux saw a timeout routes
	// its receipt before its write-back: the count may come last.
	eventually.That(t, 10*time.Second, "a.mux.Metrics().Snapshot().IDsWrittenBack == n", func() bool { return a.mux.Metrics().Snapshot().IDsWrittenBack == n })
}

// Two instances share Redis: the trace of a message submitted through a,
// whose receipt came in through b and went out through a, reads the same
// on b.
func TestRedisMessageTraceAcrossInstances(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	conf := harnessConf{store: fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"", addr)}
	a := newHarnessConf(t, conf, simtest.DLRDelay(time.Hour))
	b := newHarnessConf(t, conf, simtest.DLRDelay(time.Hour))
	c := a.dial("shop", "shop-pw", esme.Options{})
	st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "trace"))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	if err := b.sim.InjectReceipt("acct", id); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, c, 1, 10*time.Second)[0]; got != id {
		t.Fatalf("receipt for %s, want %s", got, id)
	}
	var tr mux.MessageTrace
	eventually.That(t, 10*time.Second, "both instances' events in the trace", func() bool {
		var ok bool
		tr, ok, err = b.mux.Message(ctxT(t), id)
		// Each instance writes its own events (b the receipt stored, a its
		// delivery) in batches of its own: they land in either order.
		return err == nil && ok && len(tr.Receipts) == 1 && tr.Receipts[0].State == "delivered" && tr.Receipts[0].Stored != nil
	})
	if tr.Client != "shop" || tr.Submitted == nil || tr.Receipts[0].Stored == nil || tr.Receipts[0].Queue != "shop" {
		t.Fatalf("trace on b: %+v", tr)
	}
	if _, ok, err := b.mux.Message(ctxT(t), "nosuch"); ok || err != nil {
		t.Fatalf("trace of an unknown id: %v %v", ok, err)
	}
}
