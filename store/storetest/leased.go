package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/store"
)

// enqueueLeased enqueues one item per tag for client through le, the
// tags in leasedTags leased for lease, and returns the ids by tag.
func enqueueLeased(t testing.TB, le store.LeasedEnqueuer, client string, lease time.Duration, tags []string, leasedTags ...string) map[string]string {
	t.Helper()
	items := make([]store.Item, len(tags))
	leased := make([]bool, len(tags))
	for i, tag := range tags {
		items[i] = store.Item{Client: client, Kind: store.KindReport, Frame: Frame(tag)}
		for _, l := range leasedTags {
			leased[i] = leased[i] || l == tag
		}
	}
	ids, err := le.EnqueueLeased(context.Background(), items, leased, lease)
	if err != nil {
		t.Fatalf("EnqueueLeased: %v", err)
	}
	if len(ids) != len(items) {
		t.Fatalf("EnqueueLeased returned %d ids for %d items", len(ids), len(items))
	}
	out := map[string]string{}
	for i, tag := range tags {
		if leased[i] != (ids[i] != "") {
			t.Fatalf("EnqueueLeased: item %s leased %v has id %q", tag, leased[i], ids[i])
		}
		if leased[i] {
			out[tag] = ids[i]
		}
	}
	return out
}

// testEnqueueLeased: leased entries are not fetched while their lease
// holds, are removed by Ack, come back on Release and when the lease
// runs out; the others are fetched as Enqueue's.
func testEnqueueLeased(t *testing.T, s store.Store) {
	le, ok := s.(store.LeasedEnqueuer)
	if !ok {
		t.Skip("not a store.LeasedEnqueuer")
	}
	ctx := context.Background()
	ids := enqueueLeased(t, le, "h", time.Minute, []string{"h1", "h2", "h3", "h4"}, "h1", "h3")
	wantTags(t, "unleased entries only", fetch(t, s, "h", 10, time.Minute), "h2", "h4")
	if err := s.Ack(ctx, "h", []string{ids["h1"]}); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := s.Release(ctx, "h", []string{ids["h3"]}); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got := fetch(t, s, "h", 10, time.Minute)
	wantTags(t, "a released leased entry comes back, an acked one does not", got, "h3")
	if got[0].ID != ids["h3"] {
		t.Errorf("fetched id %q, EnqueueLeased said %q", got[0].ID, ids["h3"])
	}
	if q := stats(t, s).Queued["h"]; q != 3 {
		t.Errorf("Stats.Queued[h] = %d, want 3 (leased ones count)", q)
	}

	const lease = 200 * time.Millisecond
	ids = enqueueLeased(t, le, "x", lease, []string{"x1"}, "x1")
	wantTags(t, "leased", fetch(t, s, "x", 10, time.Minute))
	var again []store.Entry
	eventually.That(t, 5*time.Second, "a lapsed lease of a leased enqueue did not make its entry fetchable", func() bool {
		again = fetch(t, s, "x", 10, time.Minute)
		return len(again) > 0
	})
	wantTags(t, "after the lease", again, "x1")
	if again[0].ID != ids["x1"] {
		t.Errorf("id changed over a lapsed lease: %q then %q", ids["x1"], again[0].ID)
	}
}

// testLeasedJointWrite: PutIDsEnqueueLeased stores the ids and leases
// the items it is asked to.
func testLeasedJointWrite(t *testing.T, s store.Store) {
	lj, ok := s.(store.LeasedJointWriter)
	if !ok {
		t.Skip("not a store.LeasedJointWriter")
	}
	ctx := context.Background()
	recs := []store.IDRecord{{ID: "j-1", Client: "j", Expires: time.Now().Add(time.Hour)}}
	items := []store.Item{{Client: "j", Kind: store.KindReport, Frame: Frame("j1")}, {Client: "j", Kind: store.KindReport, Frame: Frame("j2")}}
	ids, idsErr, itemsErr := lj.PutIDsEnqueueLeased(ctx, recs, items, []bool{true, false}, time.Minute)
	if idsErr != nil || itemsErr != nil {
		t.Fatalf("PutIDsEnqueueLeased: %v, %v", idsErr, itemsErr)
	}
	if len(ids) != 2 || ids[0] == "" || ids[1] != "" {
		t.Fatalf("PutIDsEnqueueLeased ids %q, want one for the leased item only", ids)
	}
	if c, ok, err := s.LookupID(ctx, "j-1"); err != nil || !ok || c != "j" {
		t.Errorf("LookupID(j-1) = %q, %v, %v", c, ok, err)
	}
	wantTags(t, "the unleased item only", fetch(t, s, "j", 10, time.Minute), "j2")
	if err := s.Release(ctx, "j", ids[:1]); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantTags(t, "released", fetch(t, s, "j", 10, time.Minute), "j1")
}
