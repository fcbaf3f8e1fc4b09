package mux_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// Two instances on one Redis, the client bound on B only: B hands the
// receipts it stores to the client's dispatcher (leased in Redis), A
// stores its share unleased for B to fetch; every receipt reaches the
// client exactly once.
func TestHandoffAcrossInstancesNoDuplicates(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	addr, _, _ := redistest.Start(t)
	s := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "secret"), simtest.DLRDelay(50*time.Millisecond))
	storeTOML := fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\nprefix = \"handoff\"", addr)
	a := startMux(t, muxConfig(s, storeTOML))
	b := startMux(t, muxConfig(s, storeTOML))
	eventually.That(t, 5*time.Second, "a.UpstreamBound() == 4 && b.UpstreamBound() == 4", func() bool { return a.UpstreamBound() == 4 && b.UpstreamBound() == 4 })
	c, err := esme.Dial(b.Addrs()[0].String(), "shop", "shop-pw", esme.Options{Buffer: n + 100})
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	ids := submitMany(t, c, n, 16)
	counts := receiptsOnce(t, c, ids, n, 120*time.Second)
	dups := duplicates(counts)
	sa, sb := a.Metrics().Snapshot(), b.Metrics().Snapshot()
	t.Logf("%d receipts, %d duplicates; stored by A %d, by B %d, handed over by B %d, by A %d", len(counts), dups, sa.Reports, sb.Reports, sb.HandedOver, sa.HandedOver)
	if dups != 0 {
		t.Errorf("%d receipts delivered more than once", dups)
	}
	if sa.HandedOver != 0 {
		t.Errorf("A, with no bind of the client, handed over %d receipts", sa.HandedOver)
	}
	if sb.HandedOver == 0 {
		t.Errorf("B handed over no receipt")
	}
}
