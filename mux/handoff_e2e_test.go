package mux_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// Receipts to a client bound on the instance are handed to its
// dispatcher as they are stored (leased), not fetched: with the memory
// and the bolt store, every one of 20,000 receipts reaches the client
// exactly once, and most of them by the handoff.
func TestHandoffNoDuplicates(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) string
	}{
		{"memory", func(*testing.T) string { return `module = "memory"` }},
		{"bolt", func(t *testing.T) string {
			return fmt.Sprintf("module = \"bolt\"\npath = %q", filepath.Join(t.TempDir(), "mux.db"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Receipts 50ms after their submit_sm_resp, as the bench's
			// simulator sends them: most find their message id stored.
			h := newHarnessFull(t, tc.store(t), "", "", simtest.DLRDelay(50*time.Millisecond))
			c := h.dial("shop", "shop-pw", esme.Options{Buffer: n + 100})
			ids := submitMany(t, c, n, 16)
			counts := receiptsOnce(t, c, ids, n, 120*time.Second)
			dups := duplicates(counts)
			snap := h.mux.Metrics().Snapshot()
			handed := snap.HandedOver
			t.Logf("%s: %d receipts, %d duplicates, %d handed over, %d matched late", tc.name, len(counts), dups, handed, snap.MatchedLate)
			if dups != 0 {
				t.Errorf("%d receipts delivered more than once", dups)
			}
			if matched := snap.MatchedLate; handed < (uint64(n)-matched)/2 {
				t.Errorf("%d of %d receipts (%d matched late) handed over, want most", handed, n, matched)
			}
		})
	}
}

// submitMany sends n submits asking for a receipt over c from workers
// goroutines and returns their message ids.
func submitMany(t *testing.T, c *esme.Client, n, workers int) map[string]bool {
	t.Helper()
	var (
		mu   sync.Mutex
		ids  = make(map[string]bool, n)
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				st, id, err := c.Submit(ctxT(t), sm("4599999999", true, fmt.Sprint("handoff ", i)))
				if err != nil || st != pdu.StatusOK {
					errs <- fmt.Errorf("submit %d: %v %v", i, st, err)
					return
				}
				mu.Lock()
				ids[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// receiptsOnce reads the DELIVRD receipts c gets until each of n message
// ids in ids has one, failing at a receipt for another id or when timeout
// has passed; then, since a receipt delivered twice has come 200ms later
// (the client acknowledges each at once), it counts what else came, and
// returns how often each id's receipt came.
func receiptsOnce(t *testing.T, c *esme.Client, ids map[string]bool, n int, timeout time.Duration) map[string]int {
	t.Helper()
	counts := make(map[string]int, n)
	isReceipt := func(f []byte) bool {
		text, _, _, _ := pdu.PeekText(f)
		return strings.Contains(string(text), "stat:DELIVRD")
	}
	deadline := time.After(timeout)
	for len(counts) < n {
		select {
		case f := <-c.Deliveries:
			if !isReceipt(f) {
				continue
			}
			id := receiptID(t, f)
			if !ids[id] {
				t.Fatalf("receipt for unknown id %s", id)
			}
			counts[id]++
		case <-deadline:
			t.Fatalf("%d of %d receipts", len(counts), n)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for len(c.Deliveries) > 0 {
		if f := <-c.Deliveries; isReceipt(f) {
			counts[receiptID(t, f)]++
		}
	}
	return counts
}

// duplicates is how many receipts came more than once, over counts.
func duplicates(counts map[string]int) int {
	dups := 0
	for _, k := range counts {
		dups += k - 1
	}
	return dups
}
