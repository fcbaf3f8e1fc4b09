package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/store"
)

// TestBatchesOnOneServer: on one server, LookupIDs, ExpireIDs and
// AddEvents send one command per batchKeys ids (MGET, or a script), and
// every id of a batch that spans several gets its answer or its write.
func TestBatchesOnOneServer(t *testing.T) {
	ctx := context.Background()
	addr, _, _ := redistest.Start(t)
	s := open(t, addr, uniquePrefix(), store.Limits{})
	var hook cmdCounter
	s.rdb.AddHook(&hook)
	const n = 2*batchKeys + 88
	var recs []store.IDRecord
	var ids []string
	for i := range n {
		id := fmt.Sprint("m", i)
		recs = append(recs, store.IDRecord{ID: id, Client: fmt.Sprint("c", i%7), Expires: time.Now().Add(72 * time.Hour)})
		ids = append(ids, id)
		if i%100 == 0 {
			ids = append(ids, fmt.Sprint("x", i))
		}
	}
	if err := s.PutIDs(ctx, recs); err != nil {
		t.Fatal(err)
	}

	sent := func(f func() error) int64 {
		t.Helper()
		before := hook.cmds.Load()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		return hook.cmds.Load() - before
	}
	want := int64((len(ids) + batchKeys - 1) / batchKeys)
	var clients []string
	var found []bool
	if got := sent(func() (err error) { clients, found, err = s.LookupIDs(ctx, ids); return err }); got != want {
		t.Errorf("LookupIDs of %d ids sent %d commands, want %d", len(ids), got, want)
	}
	j := 0
	for i, id := range ids {
		if id[0] == 'm' {
			if !found[i] || clients[i] != recs[j].Client {
				t.Fatalf("LookupIDs: %s = %q, %v; want %q", id, clients[i], found[i], recs[j].Client)
			}
			j++
		} else if found[i] {
			t.Fatalf("LookupIDs: %s found (%q)", id, clients[i])
		}
	}

	at := time.Now().Add(time.Hour)
	if got := sent(func() error { return s.ExpireIDs(ctx, ids, at) }); got != want {
		t.Errorf("ExpireIDs of %d ids sent %d commands, want %d", len(ids), got, want)
	}
	for _, id := range []string{"m0", fmt.Sprint("m", batchKeys), fmt.Sprint("m", n-1)} {
		ttl, err := s.rdb.PTTL(ctx, s.keys.id(id)).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s expires in %v (%v), want within the hour", id, ttl, err)
		}
	}

	var events []store.Event
	now := time.Now()
	for _, r := range recs {
		events = append(events, store.Event{ID: r.ID, Kind: store.EventSubmit, At: now, Queue: r.Client, Expires: now.Add(time.Hour)})
	}
	events = append(events, store.Event{ID: recs[n-1].ID, Kind: store.EventReceipt, At: now, Queue: recs[n-1].Client, Stat: "DELIVRD", Expires: now.Add(2 * time.Hour)})
	wantEv := int64((n + batchKeys - 1) / batchKeys)
	if got := sent(func() error { return s.AddEvents(ctx, events) }); got != wantEv {
		t.Errorf("AddEvents for %d ids sent %d commands, want %d", n, got, wantEv)
	}
	for _, r := range []store.IDRecord{recs[0], recs[batchKeys], recs[n-1]} {
		h, err := s.History(ctx, r.ID)
		if err != nil || len(h) == 0 || h[0].Kind != store.EventSubmit || h[0].Queue != r.Client {
			t.Fatalf("History(%s) = %+v, %v", r.ID, h, err)
		}
	}
	if h, _ := s.History(ctx, recs[n-1].ID); len(h) != 2 {
		t.Errorf("History(%s) holds %d events, want 2", recs[n-1].ID, len(h))
	}
	if ttl, err := s.rdb.PTTL(ctx, s.keys.id(recs[n-1].ID)).Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("%s expires in %v (%v) after its events, want the id's expiry, within the hour", recs[n-1].ID, ttl, err)
	}
}
