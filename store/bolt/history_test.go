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
