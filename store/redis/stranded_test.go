package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

// A Fetch whose reply was lost (Redis ran the script; the mux saw a
// timeout) leased entries nobody here holds. The next Fetch releases them
// and hands them out, instead of leaving them to their lease (ten minutes
// for the orphan queue): fault 20 of the fault suite saw a receipt stuck
// that way. Entries handed out and still held are not touched.
func TestLostFetchReplyReleased(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	s := open(t, addr, uniquePrefix(), storetest.Limits)
	ctx := context.Background()
	if err := s.Enqueue(ctx, items("c1", "a", "b", "c", "d")); err != nil {
		t.Fatal(err)
	}
	held := mustFetch(t, s, "c1", 1, time.Hour) // "a", delivered and not acknowledged yet
	// The script runs, its reply is lost: as in Fetch, minus the reply.
	if err := fetchScript.Run(ctx, s.rdb, []string{s.keys.queue("c1"), s.keys.leases("c1")},
		group, s.consumer, 2, time.Hour.Milliseconds(), s.limits.Retention.Milliseconds()).Err(); err != nil {
		t.Fatal(err)
	}
	s.handouts.failed("c1")
	got := mustFetch(t, s, "c1", 10, time.Hour)
	if tagsOf(held) != "a" || tagsOf(got) != "b,c,d" {
		t.Fatalf("held %s, then fetched %s; want a, then b,c,d", tagsOf(held), tagsOf(got))
	}
	// Without the failure, what is leased stays leased.
	if es := mustFetch(t, s, "c1", 10, time.Hour); len(es) != 0 {
		t.Fatalf("fetched %s again while leased", tagsOf(es))
	}
}

// The recovery of stranded entries reads this consumer's pending entries
// and releases those no call handed out; an EnqueueLeased (or a Fetch) of
// another goroutine whose script Redis has run, but whose reply is not
// back yet, has leased entries the recovery must not release: the mux
// holds them a moment later, and a Fetch would hand them out again, so
// the client would get the report twice (fault case 10 saw 2 duplicates,
// 18 ms apart, after a Redis restart). No entry a leased enqueue handed
// out may be released while the recovery runs beside it.
func TestStrandedRecoverySparesLeasesInFlight(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	s := open(t, addr, uniquePrefix(), storetest.Limits)
	ctx := context.Background()
	const rounds = 300
	done := make(chan struct{})
	var handed []string
	go func() {
		defer close(done)
		for i := range rounds {
			ids, err := s.EnqueueLeased(ctx, items("c1", fmt.Sprint("r", i)), []bool{true}, time.Hour)
			if err != nil {
				t.Errorf("EnqueueLeased: %v", err)
				return
			}
			handed = append(handed, ids...)
		}
	}()
	recoveries := 0
	for running := true; running; recoveries++ {
		select {
		case <-done:
			running = false
		default:
		}
		s.handouts.failed("c1")
		if err := s.releaseStranded(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
	}
	released := 0
	for _, id := range handed {
		score, err := s.rdb.ZScore(ctx, s.keys.leases("c1"), id).Result()
		if err != nil {
			t.Fatalf("lease of %s: %v", id, err)
		}
		if score == 0 {
			released++
		}
	}
	t.Logf("%d leased enqueues, %d recoveries beside them", len(handed), recoveries)
	if released != 0 {
		t.Fatalf("%d of %d entries handed out by EnqueueLeased were released as stranded", released, len(handed))
	}
}

// An EnqueueLeased that fails for one client fails as a whole, and the
// caller hands none of its entries to anyone: what it leased for the
// other clients is released at once, for any instance's Fetch, instead
// of waiting out its lease.
func TestFailedLeasedEnqueueReleasesTheRest(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	prefix := uniquePrefix()
	s := open(t, addr, prefix, storetest.Limits)
	other := open(t, addr, prefix, storetest.Limits) // a second instance
	ctx := context.Background()
	if err := s.rdb.Set(ctx, s.keys.queue("bad"), "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	in := append(items("good", "g1", "g2"), items("bad", "b1")...)
	if _, err := s.EnqueueLeased(ctx, in, []bool{true, true, true}, time.Hour); err == nil {
		t.Fatal("EnqueueLeased succeeded with a queue that is no stream")
	}
	if got := mustFetch(t, other, "good", 10, time.Hour); tagsOf(got) != "g1,g2" {
		t.Fatalf("another instance fetched %q of the stored entries, want g1,g2", tagsOf(got))
	}
}
