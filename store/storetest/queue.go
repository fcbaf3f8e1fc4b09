package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/store"
)

func testLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	enqueueTags(t, s, "l", "l1", "l2", "l3", "l4", "l5")
	first := fetch(t, s, "l", 2, time.Minute)
	wantTags(t, "first lease", first, "l1", "l2")
	rest := fetch(t, s, "l", 10, time.Minute)
	wantTags(t, "second fetch skips leased entries", rest, "l3", "l4", "l5")
	wantTags(t, "everything leased", fetch(t, s, "l", 10, time.Minute))

	if err := s.Release(ctx, "l", ids(first)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	again := fetch(t, s, "l", 10, time.Minute)
	wantTags(t, "released entries come back at once, oldest first", again, "l1", "l2")
	if again[0].ID != first[0].ID || again[1].ID != first[1].ID {
		t.Errorf("ids changed over a lease: %q then %q", ids(first), ids(again))
	}

	if err := s.Ack(ctx, "l", append(ids(again), rest[0].ID)); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := s.Release(ctx, "l", ids(rest)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantTags(t, "acked entries are gone for good", fetch(t, s, "l", 10, time.Minute), "l4", "l5")
	if q := stats(t, s).Queued["l"]; q != 2 {
		t.Errorf("Stats.Queued[l] = %d after acking 3 of 5, want 2", q)
	}
	if err := s.Ack(ctx, "l", ids(rest)); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := s.Release(ctx, "l", ids(rest)); err != nil { // releasing acked ids is a no-op
		t.Fatalf("Release after Ack: %v", err)
	}
	wantTags(t, "all acked", fetch(t, s, "l", 10, time.Minute))
	if q := stats(t, s).Queued["l"]; q != 0 {
		t.Errorf("Stats.Queued[l] = %d after acking all, want 0", q)
	}
}

func testLeaseExpires(t *testing.T, s store.Store) {
	enqueueTags(t, s, "e", "e1", "e2")
	const lease = 200 * time.Millisecond
	start := time.Now()
	first := fetch(t, s, "e", 1, lease)
	wantTags(t, "leased", first, "e1")
	wantTags(t, "other entry", fetch(t, s, "e", 10, time.Minute), "e2")
	var again []store.Entry
	eventually.That(t, 5*time.Second, "a lapsed lease did not make its entry fetchable again", func() bool {
		again = fetch(t, s, "e", 10, time.Minute)
		return len(again) > 0
	})
	// A store may keep time in whole milliseconds (store.redis uses the
	// server's clock), so a lease can end up to a millisecond early.
	if d := time.Since(start); d < lease-2*time.Millisecond {
		t.Errorf("entry came back after %v, before its lease of %v passed", d, lease)
	}
	wantTags(t, "after the lease", again, "e1")
	if again[0].ID != first[0].ID {
		t.Errorf("id changed over a lapsed lease: %q then %q", first[0].ID, again[0].ID)
	}
}

func testAckUnknown(t *testing.T, s store.Store) {
	ctx := context.Background()
	enqueueTags(t, s, "u", "u1")
	for _, tc := range []struct{ client, id string }{{"u", "no-such-id"}, {"u", "999999"}, {"nobody", "1"}, {"u", ""}} {
		if err := s.Ack(ctx, tc.client, []string{tc.id}); err != nil {
			t.Errorf("Ack(%q, %q): %v", tc.client, tc.id, err)
		}
		if err := s.Release(ctx, tc.client, []string{tc.id}); err != nil {
			t.Errorf("Release(%q, %q): %v", tc.client, tc.id, err)
		}
	}
	if err := s.Ack(ctx, "u", nil); err != nil {
		t.Errorf("Ack(nil): %v", err)
	}
	wantTags(t, "untouched", fetch(t, s, "u", 10, time.Minute), "u1")
}

func testQueueCap(t *testing.T, s store.Store) {
	const over = 7
	n := Limits.QueueCap + over
	dropped0 := stats(t, s).Dropped
	all := seq("c", n)
	items := make([]store.Item, 0, n)
	for _, tag := range all[:n-3] {
		items = append(items, store.Item{Client: "cap", Kind: store.KindReport, Frame: Frame(tag)})
	}
	enqueue(t, s, items...)
	enqueueTags(t, s, "cap", all[n-3:]...)
	enqueueTags(t, s, "other", "o1")
	var st store.Stats
	eventually.That(t, 5*time.Second, "queue not cut to its cap, or the drops not counted", func() bool {
		st = stats(t, s)
		return st.Queued["cap"] == Limits.QueueCap && st.Dropped-dropped0 >= over
	})
	wantTags(t, "oldest dropped", fetch(t, s, "cap", n, time.Minute), all[over:]...)
	wantTags(t, "other client untouched", fetch(t, s, "other", 10, time.Minute), "o1")
}

func testRetention(t *testing.T, s store.Store) {
	dropped0 := stats(t, s).Dropped
	enqueueTags(t, s, "r", "old1", "old2", "old3")
	time.Sleep(Limits.Retention + 50*time.Millisecond) // waiting out retention is the point
	enqueueTags(t, s, "r", "new1")
	wantTags(t, "entries past retention are not fetched", fetch(t, s, "r", 10, time.Minute), "new1")
	eventually.That(t, 5*time.Second, "entries past retention not removed", func() bool {
		st := stats(t, s)
		return st.Queued["r"] == 1 && st.Dropped-dropped0 >= 3
	})
}

// testConcurrent runs producers, and consumers that fetch and ack, for
// several clients at once; every item must be delivered exactly once.
func testConcurrent(t *testing.T, s store.Store) {
	const clients, producers, perProducer, consumers = 4, 8, 40, 2
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	total := producers * perProducer
	var (
		mu   sync.Mutex
		seen = map[string]string{} // tag -> client that got it
		done = make(chan struct{})
		errs = make(chan error, producers+clients*consumers)
		wg   sync.WaitGroup
	)
	for p := range producers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(p), 1))
			for i := 0; i < perProducer; {
				n := min(1+r.IntN(3), perProducer-i)
				items := make([]store.Item, n)
				for j := range items {
					c := fmt.Sprintf("c%d", r.IntN(clients))
					items[j] = store.Item{Client: c, Kind: store.KindReport, Frame: Frame(fmt.Sprintf("%s/p%d/%d", c, p, i+j))}
				}
				if err := s.Enqueue(ctx, items); err != nil {
					errs <- fmt.Errorf("enqueue: %w", err)
					return
				}
				i += n
			}
		})
	}
	for c := range clients * consumers {
		client := fmt.Sprintf("c%d", c%clients)
		wg.Go(func() { errs <- consume(ctx, s, client, &mu, seen, total, done) })
	}
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	if len(seen) != total {
		t.Fatalf("delivered %d items, want %d", len(seen), total)
	}
	for _, q := range stats(t, s).Queued {
		if q != 0 {
			t.Fatalf("Stats.Queued = %v after every item was acked", stats(t, s).Queued)
		}
	}
}

// consume fetches and acks client's entries until every item of the test
// was seen. It returns an error on a duplicate or misrouted item.
func consume(ctx context.Context, s store.Store, client string, mu *sync.Mutex, seen map[string]string, total int, done chan struct{}) error {
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("consumer %s: %w", client, ctx.Err())
		default:
		}
		es, err := s.Fetch(ctx, client, 16, time.Minute)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if len(es) == 0 {
			time.Sleep(time.Millisecond) // an idle poller, as a dispatcher without a wake-up would be
			continue
		}
		mu.Lock()
		for _, e := range es {
			tag := Tag(e.Frame)
			if prev, dup := seen[tag]; dup {
				mu.Unlock()
				return fmt.Errorf("item %s delivered twice (to %s, then %s)", tag, prev, client)
			}
			if tag[:len(client)+1] != client+"/" {
				mu.Unlock()
				return fmt.Errorf("item %s delivered to client %s", tag, client)
			}
			seen[tag] = client
		}
		if len(seen) == total {
			close(done)
		}
		mu.Unlock()
		if err := s.Ack(ctx, client, ids(es)); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
	}
}

func testClosed(t *testing.T, s store.Store) {
	ctx := context.Background()
	enqueueTags(t, s, "x", "x1")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	check := func(method string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want store.ErrClosed", method, err)
		}
	}
	check("PutIDs", s.PutIDs(ctx, []store.IDRecord{{ID: "1", Client: "x", Expires: time.Now().Add(time.Hour)}}))
	_, _, err := s.LookupID(ctx, "1")
	check("LookupID", err)
	check("Enqueue", s.Enqueue(ctx, []store.Item{{Client: "x", Kind: store.KindReport, Frame: Frame("x2")}}))
	_, err = s.Fetch(ctx, "x", 10, time.Minute)
	check("Fetch", err)
	check("Ack", s.Ack(ctx, "x", []string{"1"}))
	check("Release", s.Release(ctx, "x", []string{"1"}))
	_, err = s.Stats(ctx)
	check("Stats", err)
	_ = s.Close() // a second Close must not panic
}
