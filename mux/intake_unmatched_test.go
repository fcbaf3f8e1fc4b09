package mux_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// Receipts whose ids nobody knows (another system on the account, ids
// past dlr_ttl) are stored and answered at once, so they never fill the
// provider's window: with ten times its window of them waiting, a good
// client's receipts all arrive, and the provider resends none of them.
// Before, each was held unanswered for dlr_grace, and the good receipts
// queued behind them.
func TestUnknownReceiptsDoNotStallOthers(t *testing.T) {
	h := newHarnessConf(t, harnessConf{
		store:  fmt.Sprintf("module = \"bolt\"\npath = %q", filepath.Join(t.TempDir(), "mux.db")),
		server: `dlr_grace = "1m"`,
	}, simtest.Window(10), simtestDeliverTimeout(time.Minute))
	const unknown, good = 400, 40
	for i := range unknown {
		if err := h.sim.InjectReceipt("acct", fmt.Sprintf("feed%012d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c := h.dial("shop", "shop-pw", esme.Options{})
	for i := range good {
		if st, _, err := c.Submit(ctxT(t), sm("4599999999", true, fmt.Sprint(i))); err != nil || st != pdu.StatusOK {
			t.Fatalf("submit %d: %v %v", i, st, err)
		}
	}
	if ids := collect(t, c, good, 20*time.Second); len(ids) != good {
		t.Fatalf("%d of %d good receipts", len(ids), good)
	}
	eventually.That(t, 10*time.Second, "h.mux.Queued(mux.OrphanQueue) == unknown", func() bool { return h.mux.Queued(mux.OrphanQueue) == unknown })
	eventually.That(t, 10*time.Second, "h.sim.Stats().DLRsAcked == unknown+good", func() bool { return h.sim.Stats().DLRsAcked == unknown+good })
	if st := h.sim.Stats(); st.Resent != 0 {
		t.Errorf("provider resent %d receipts", st.Resent)
	}
}

// A receipt that arrives well before its submit_sm_resp (the provider slow
// to answer, dlr_grace short) is answered at once, not orphaned before
// the provider's response_timeout, and reaches its client once the id
// arrives.
func TestReceiptAheadOfSlowResponse(t *testing.T) {
	var n atomic.Uint64
	h := newHarnessConf(t, harnessConf{server: `dlr_grace = "100ms"`, upstream: `response_timeout = "5s"`},
		simtest.RespLatency(1500*time.Millisecond),
		simtest.Config(func(c *sim.Config) { c.MessageID = func(uint64) string { return fmt.Sprintf("slow%d", n.Add(1)) } }))
	c := h.dial("shop", "shop-pw", esme.Options{})
	if _, _, err := c.Send(pdu.CmdSubmitSM, sm("4599999999", true, "slow")); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().Submits == 1", func() bool { return h.sim.Stats().Submits == 1 })
	if err := h.sim.InjectReceipt("acct", "slow1"); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().DLRsAcked == 1", func() bool { return h.sim.Stats().DLRsAcked == 1 }) // answered before the id is known
	if ids := collect(t, c, 1, 10*time.Second); ids[0] != "slow1" {
		t.Fatalf("receipt for %s", ids[0])
	}
	if got := h.mux.Metrics().Snapshot().Orphaned; got != 0 {
		t.Errorf("%d orphaned, want 0: the id came within response_timeout", got)
	}
	eventually.That(t, 5*time.Second, "h.mux.Queued(mux.OrphanQueue) == 0", func() bool { return h.mux.Queued(mux.OrphanQueue) == 0 })
}

// A receipt orphaned (its id unknown past the grace) is still matched
// when the id becomes known later, and delivered to its client once.
func TestOrphanMatchedWhenIDArrives(t *testing.T) {
	h := newHarnessConf(t, harnessConf{server: `dlr_grace = "50ms"`, upstream: `response_timeout = "50ms"`},
		simtest.Config(func(c *sim.Config) { c.MessageID = func(uint64) string { return "late1" } }),
		simtest.DLRDelay(time.Hour)) // only the injected receipt
	if err := h.sim.InjectReceipt("acct", "late1"); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.mux.Metrics().Snapshot().Orphaned == 1", func() bool { return h.mux.Metrics().Snapshot().Orphaned == 1 })
	c := h.dial("shop", "shop-pw", esme.Options{})
	if st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "late")); err != nil || st != pdu.StatusOK || id != "late1" {
		t.Fatalf("submit: %v %q %v", st, id, err)
	}
	if ids := collect(t, c, 1, 10*time.Second); ids[0] != "late1" {
		t.Fatalf("receipt for %s", ids[0])
	}
	eventually.That(t, 5*time.Second, "h.mux.Queued(mux.OrphanQueue) == 0", func() bool { return h.mux.Queued(mux.OrphanQueue) == 0 })
	select {
	case f := <-c.Deliveries:
		t.Fatalf("a second delivery: %x", f)
	case <-time.After(300 * time.Millisecond):
	}
	if got := h.mux.Metrics().Snapshot().MatchedLate; got != 1 {
		t.Errorf("matched late: %d, want 1", got)
	}
}

// The provider resends a receipt it got no answer for; a receipt held for
// an unknown id is answered when stored, so there is nothing to resend,
// and a resend that comes anyway (its answer lost) is recognised and not
// stored twice.
func TestUnknownReceiptAnsweredNotResent(t *testing.T) {
	h := newHarnessConf(t, harnessConf{server: `dlr_grace = "1m"`}, simtestDeliverTimeout(300*time.Millisecond))
	if err := h.sim.InjectReceipt("acct", "0badc0de"); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().DLRsAcked == 1", func() bool { return h.sim.Stats().DLRsAcked == 1 })
	time.Sleep(time.Second) // three of the provider's answer timeouts: a held receipt would have been resent
	if st := h.sim.Stats(); st.Resent != 0 || st.DLRsSent != 1 {
		t.Errorf("provider sent %d, resent %d; want 1 and 0", st.DLRsSent, st.Resent)
	}
	if got := h.mux.Queued(mux.OrphanQueue); got != 1 {
		t.Errorf("orphan queue %d, want 1", got)
	}
}

// A receipt matched in the orphan queue whose move to its client the
// store refuses is moved at the next try, not taken for a resend already
// stored: before, the first try marked it stored, the retry skipped it
// and removed it from the orphan queue, and the client never got it
// (TestRedisRestartLosesNothing saw this after a Redis restart).
func TestOrphanMoveFailedIsMovedAtRetry(t *testing.T) {
	h := newHarnessConf(t, harnessConf{store: `module = "failing_test"`, server: `dlr_grace = "50ms"`, upstream: `response_timeout = "50ms"`},
		simtest.Config(func(c *sim.Config) { c.MessageID = func(uint64) string { return "late2" } }),
		simtest.DLRDelay(time.Hour)) // only the injected receipt
	if err := h.sim.InjectReceipt("acct", "late2"); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.mux.Metrics().Snapshot().Orphaned == 1", func() bool { return h.mux.Metrics().Snapshot().Orphaned == 1 })
	failEnqueues.Store(1) // the matcher's move, once the id is known
	defer failEnqueues.Store(0)
	c := h.dial("shop", "shop-pw", esme.Options{})
	if st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "late")); err != nil || st != pdu.StatusOK || id != "late2" {
		t.Fatalf("submit: %v %q %v", st, id, err)
	}
	if ids := collect(t, c, 1, 10*time.Second); ids[0] != "late2" {
		t.Fatalf("receipt for %s", ids[0])
	}
	if n := failEnqueues.Load(); n != 0 {
		t.Fatalf("the move did not fail first (%d failures left): the test proved nothing", n)
	}
	eventually.That(t, 5*time.Second, "h.mux.Queued(mux.OrphanQueue) == 0", func() bool { return h.mux.Queued(mux.OrphanQueue) == 0 })
}
