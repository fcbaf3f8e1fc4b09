package mux_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/memory"
)

// failing is a store module whose writes fail while broken is set, as a
// full disk does, and whose PutIDs fails while brokenIDs is set too. While
// failingShared is set, every new one uses that store, as instances
// sharing Redis do.
type failing struct {
	*memory.Store
	shared bool
}

var (
	broken, brokenIDs atomic.Bool
	failEnqueues      atomic.Int32 // Enqueue fails while it counts down to 0
	failingShared     atomic.Pointer[memory.Store]
	lastFailing       atomic.Pointer[failing] // the one made last, for tests to read
)

var errDiskFull = errors.New("write: no space left on device")

func init() { module.Register(new(failing)) }

func (*failing) MuxModule() module.Info {
	return module.Info{ID: "store.failing_test", New: func() module.Module {
		f := &failing{Store: memory.New(store.Limits{})}
		if s := failingShared.Load(); s != nil {
			f.Store, f.shared = s, true
		}
		lastFailing.Store(f)
		return f
	}}
}

// Provision and Cleanup leave a shared store as it is.
func (f *failing) Provision(ctx module.Context) error {
	if f.shared {
		return nil
	}
	return f.Store.Provision(ctx)
}

func (f *failing) Cleanup() error {
	if f.shared {
		return nil
	}
	return f.Store.Cleanup()
}

func (f *failing) PutIDs(ctx context.Context, r []store.IDRecord) error {
	if broken.Load() || brokenIDs.Load() {
		return errDiskFull
	}
	return f.Store.PutIDs(ctx, r)
}

// takeEnqueueFailure reports whether this Enqueue is one of those
// failEnqueues asks to fail, and counts it.
func takeEnqueueFailure() bool {
	for {
		n := failEnqueues.Load()
		if n <= 0 {
			return false
		}
		if failEnqueues.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

func (f *failing) Enqueue(ctx context.Context, items []store.Item) error {
	if broken.Load() || takeEnqueueFailure() {
		return errDiskFull
	}
	return f.Store.Enqueue(ctx, items)
}

// A store that cannot write: clients still get their submit_sm_resp, no
// report is acknowledged to the provider (it gets ESME_RX_T_APPN and
// keeps them), and once the store works again every report arrives.
func TestStoreFailureAcknowledgesNothing(t *testing.T) {
	broken.Store(true)
	defer broken.Store(false)
	h := newHarnessStore(t, "failing_test", "", simtest.Config(func(c *sim.Config) { c.DeliverTimeout = 2 * time.Second }))
	c := h.dial("shop", "shop-pw", esme.Options{})
	const n = 10
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "disk full"))
		if err != nil || st != pdu.StatusOK {
			t.Fatalf("submit while the store fails: %v %v", st, err)
		}
		ids[id] = true
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().DLRsSent >= n", func() bool { return h.sim.Stats().DLRsSent >= n })
	time.Sleep(200 * time.Millisecond) // the mux's answers are on their way; none may be an ack
	if acked := h.sim.Stats().DLRsAcked; acked != 0 {
		t.Fatalf("%d reports acknowledged to the provider while the store could not write", acked)
	}
	if h.mux.Metrics().Snapshot().StoreErrors == 0 {
		t.Fatal("store errors not counted")
	}
	broken.Store(false)
	for _, id := range collect(t, c, n, 45*time.Second) {
		if !ids[id] {
			t.Fatalf("unexpected receipt %s", id)
		}
	}
}

// simtestDeliverTimeout makes the simulator send an unanswered or refused
// receipt again after d.
func simtestDeliverTimeout(d time.Duration) simtest.Option {
	return simtest.Config(func(c *sim.Config) { c.DeliverTimeout = d })
}

// A receipt nobody's message id matches goes, after dlr_grace, to the
// orphan queue of the store (here bolt, which rejects an empty queue name)
// and is acknowledged; receipts in the same batch are not held back.
func TestOrphanReceiptStored(t *testing.T) {
	h := newHarnessFull(t, fmt.Sprintf("module = \"bolt\"\npath = %q", filepath.Join(t.TempDir(), "mux.db")), "", "")
	c := h.dial("shop", "shop-pw", esme.Options{})
	if st, _, err := c.Submit(ctxT(t), sm("4599999999", true, "known")); err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	if err := h.sim.InjectReceipt("acct", "deadbeef00000000"); err != nil {
		t.Fatal(err)
	}
	collect(t, c, 1, 5*time.Second)
	eventually.That(t, 10*time.Second, "h.mux.Queued(mux.OrphanQueue) == 1", func() bool { return h.mux.Queued(mux.OrphanQueue) == 1 })
}
