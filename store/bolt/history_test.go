package bolt

import (
	"context"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/smpp-mux/smpp-mux/store"
)

// History events cost no commit of their own: they ride along in the
// next commit of other writes, and a History read commits them first.
func TestEventsRideAlong(t *testing.T) {
	ctx := context.Background()
	s := openHeld(t)
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "m1", Client: "shop", Expires: exp}, {ID: "m2", Client: "shop", Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	commits := s.batch.commits.Load()
	if err := s.AddEvents(ctx, []store.Event{{ID: "m1", Kind: store.EventSubmit, At: time.Now(), Queue: "shop"}}); err != nil {
		t.Fatal(err)
	}
	if n := s.batch.commits.Load() - commits; n != 0 {
		t.Fatalf("AddEvents committed (%d commits) before any other write", n)
	}
	storetestEnqueue(t, s, "shop", "a1")
	if n := s.batch.commits.Load() - commits; n != 1 {
		t.Errorf("%d commits for events and one Enqueue, want 1", n)
	}
	var v []byte
	if err := s.db.View(func(tx *bbolt.Tx) error {
		v = append(v, tx.Bucket(bucketHistory).Get([]byte("m1"))...)
		return nil
	}); err != nil || len(v) == 0 {
		t.Fatalf("history of m1 not in the file after the next commit: %v", err)
	}
	if err := s.AddEvents(ctx, []store.Event{{ID: "m2", Kind: store.EventSubmit, At: time.Now(), Queue: "shop"}}); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.History(ctx, "m2"); err != nil || len(evs) != 1 {
		t.Fatalf("History(m2) = %v, %v; want the event just added", evs, err)
	}
	// Events of an id the store does not hold are not kept.
	if err := s.AddEvents(ctx, []store.Event{{ID: "ghost", Kind: store.EventReceipt, At: time.Now(), Queue: "~orphaned"}}); err != nil {
		t.Fatal(err)
	}
	s.flushAcks()
	if err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketHistory).Get([]byte("ghost")) != nil {
			t.Error("history kept for an id the store does not hold")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// ExpireIDs costs no commit of its own: it rides along in the next
// commit, rewrites the record and appends to id_final, and the sweep then
// removes the id with its index keys and history; an id put again since
// keeps its new record.
func TestFinalsRideAlong(t *testing.T) {
	ctx := context.Background()
	s := openHeld(t)
	defer s.Close()
	now := time.Now()
	exp := now.Add(time.Hour)
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "m1", Client: "shop", Expires: exp}, {ID: "m2", Client: "shop", Expires: exp}, {ID: "m3", Client: "shop", Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvents(ctx, []store.Event{{ID: "m1", Kind: store.EventSubmit, At: now, Queue: "shop"}}); err != nil {
		t.Fatal(err)
	}
	commits := s.batch.commits.Load()
	if err := s.ExpireIDs(ctx, []string{"m1", "m2", "unknown"}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := s.batch.commits.Load() - commits; n != 0 {
		t.Fatalf("ExpireIDs committed (%d commits) before any other write", n)
	}
	storetestEnqueue(t, s, "shop", "a1")
	if n := s.batch.commits.Load() - commits; n != 1 {
		t.Errorf("%d commits for ExpireIDs and one Enqueue, want 1", n)
	}
	if n := bucketKeys(t, s, bucketIDFinal); n != 2 {
		t.Errorf("id_final holds %d keys after the commit, want 2 (m1, m2)", n)
	}
	// m2 is put again (a new record): the shortening was for the old one.
	// Its first id_exp key stays until the sweep reaches it: m2, m2 again
	// and m3 hold one each after the sweep.
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "m2", Client: "bank", Expires: exp.Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	s.sweepOnce(now.Add(30 * time.Second))
	if n := bucketKeys(t, s, bucketIDFinal); n != 2 {
		t.Errorf("id_final holds %d keys after a sweep before their expiry, want 2", n)
	}
	s.sweepOnce(now.Add(2 * time.Minute))
	if _, ok, err := s.LookupID(ctx, "m1"); ok || err != nil {
		t.Errorf("LookupID(m1) after the sweep past its new expiry = %v, %v; want not found", ok, err)
	}
	for id, want := range map[string]string{"m2": "bank", "m3": "shop"} {
		if c, ok, err := s.LookupID(ctx, id); !ok || c != want || err != nil {
			t.Errorf("LookupID(%s) = %q, %v, %v; want %s", id, c, ok, err, want)
		}
	}
	for _, b := range []struct {
		name []byte
		want int
	}{{bucketIDFinal, 0}, {bucketIDExp, 3}, {bucketHistory, 0}, {bucketIDs, 2}} {
		if n := bucketKeys(t, s, b.name); n != b.want {
			t.Errorf("bucket %s holds %d keys after the sweep, want %d", b.name, n, b.want)
		}
	}
	if st, err := s.Stats(ctx); err != nil || st.Expired != 1 || st.IDs != 2 {
		t.Errorf("Stats = %+v, %v; want 1 expired, 2 ids", st, err)
	}
}

func bucketKeys(t *testing.T, s *Store, name []byte) int {
	t.Helper()
	var n int
	if err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(name).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
