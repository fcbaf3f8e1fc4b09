package mux_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// fetches counts the Fetch calls of every failing store, and what they
// returned.
var fetches, fetched atomic.Int64

func (f *failing) Fetch(ctx context.Context, client string, max int, lease time.Duration) ([]store.Entry, error) {
	es, err := f.Store.Fetch(ctx, client, max, lease)
	fetches.Add(1)
	fetched.Add(int64(len(es)))
	return es, err
}

// Reports queued while their client was away reach it, once it binds a
// receiver with a window of 10, each exactly once and in fewer Fetch calls
// than windows: a Fetch takes up to 64 entries and the rest wait, leased,
// for the window to free.
func TestFetchAheadDeliversOnceInFewFetches(t *testing.T) {
	const n = 300
	h := newHarnessStore(t, "failing_test", "")
	tx := h.dial("shop", "shop-pw", esme.Options{Bind: pdu.CmdBindTransmitter})
	ids := submitMany(t, tx, n, 8)
	eventually.That(t, 20*time.Second, "all receipts queued", func() bool { return h.mux.Queued("shop") == n })

	fetches.Store(0)
	fetched.Store(0)
	rx := h.dial("shop", "shop-pw", esme.Options{Bind: pdu.CmdBindReceiver, Buffer: 2 * n})
	counts := receiptsOnce(t, rx, ids, n, 30*time.Second)
	eventually.That(t, 10*time.Second, "the queue is empty", func() bool { return h.mux.Queued("shop") == 0 })
	for id, k := range counts {
		if k != 1 {
			t.Errorf("receipt %s delivered %d times", id, k)
		}
	}
	// One window at a time would take at least n/10 = 30 Fetch calls.
	calls, got := fetches.Load(), fetched.Load()
	t.Logf("%d receipts in %d Fetch calls returning %d entries", n, calls, got)
	if calls > n/64+4 {
		t.Errorf("%d Fetch calls for %d receipts, want at most %d", calls, n, n/64+4)
	}
	if got != n {
		t.Errorf("Fetch returned %d entries for %d receipts", got, n)
	}
}
