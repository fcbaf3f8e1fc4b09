package redis

import (
	"context"
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
