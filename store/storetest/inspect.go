package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/store"
)

// history returns the events of id, waiting for a store that makes them
// visible later to show at least want of them.
func history(t *testing.T, h store.History, id string, want int) []store.Event {
	t.Helper()
	var evs []store.Event
	eventually.That(t, 5*time.Second, fmt.Sprintf("%d events of %s", want, id), func() bool {
		var err error
		evs, err = h.History(context.Background(), id)
		if err != nil {
			t.Fatalf("History(%s): %v", id, err)
		}
		return len(evs) >= want
	})
	return evs
}

func testHistory(t *testing.T, s store.Store) {
	h, ok := s.(store.History)
	if !ok {
		t.Skip("the store keeps no history")
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "h1", Client: "a", Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 123456789)
	want := []store.Event{
		{ID: "h1", Kind: store.EventSubmit, At: at, Queue: "a", Expires: exp},
		{ID: "h1", Kind: store.EventReceipt, At: at.Add(time.Second), Queue: "~orphaned", Stat: "ENROUTE", Expires: exp},
		{ID: "h1", Kind: store.EventMoved, At: at.Add(2 * time.Second), Queue: "a", Stat: "ENROUTE", Since: at.Add(time.Second), Expires: exp},
		{ID: "h1", Kind: store.EventDelivered, At: at.Add(3 * time.Second), Queue: "a", Stat: "ENROUTE", Expires: exp},
	}
	if err := h.AddEvents(ctx, want[:2]); err != nil {
		t.Fatal(err)
	}
	if err := h.AddEvents(ctx, want[2:]); err != nil {
		t.Fatal(err)
	}
	got := history(t, h, "h1", len(want))
	if len(got) != len(want) {
		t.Fatalf("History = %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Kind != w.Kind || !g.At.Equal(w.At) || g.Queue != w.Queue || g.Stat != w.Stat || !g.Since.Equal(w.Since) {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
	if evs, err := h.History(ctx, "nope"); err != nil || len(evs) != 0 {
		t.Errorf("History(unknown) = %v, %v; want none", evs, err)
	}

	// Bounded: the latest MaxHistory events stay.
	var many []store.Event
	for i := range store.MaxHistory + 8 {
		many = append(many, store.Event{ID: "h1", Kind: store.EventReceipt, At: at.Add(time.Duration(10+i) * time.Second), Queue: "a", Stat: fmt.Sprint(i), Expires: exp})
	}
	if err := h.AddEvents(ctx, many); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "the history trimmed to its latest events", func() bool {
		got, err := h.History(ctx, "h1")
		return err == nil && len(got) == store.MaxHistory && got[len(got)-1].Stat == fmt.Sprint(store.MaxHistory+7) &&
			slices.IndexFunc(got, func(e store.Event) bool { return e.Kind == store.EventSubmit }) < 0
	})

	// Forgotten with the id.
	short := time.Now().Add(300 * time.Millisecond)
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "h2", Client: "a", Expires: short}}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddEvents(ctx, []store.Event{{ID: "h2", Kind: store.EventSubmit, At: time.Now(), Queue: "a", Expires: short}}); err != nil {
		t.Fatal(err)
	}
	history(t, h, "h2", 1)
	eventually.That(t, 10*time.Second, "the history of an expired id gone", func() bool {
		got, err := h.History(ctx, "h2")
		return err == nil && len(got) == 0
	})
}

func testPeek(t *testing.T, s store.Store) {
	p, ok := s.(store.Peeker)
	if !ok {
		t.Skip("the store cannot peek")
	}
	ctx := context.Background()
	peek := func(client string, max int) []store.Entry {
		t.Helper()
		es, err := p.Peek(ctx, client, max)
		if err != nil {
			t.Fatalf("Peek(%s, %d): %v", client, max, err)
		}
		return es
	}
	wantTags(t, "peek of an unknown queue", peek("p", 10))
	enqueueTags(t, s, "p", "1", "2", "3")
	leased := fetch(t, s, "p", 1, time.Minute)
	wantTags(t, "fetch", leased, "1")
	es := peek("p", 10)
	wantTags(t, "peek with one leased", es, "1", "2", "3")
	if es[0].ID != leased[0].ID || es[0].Kind != store.KindReport || es[0].Enqueued.IsZero() {
		t.Errorf("peeked entry = %+v, want the leased entry %s", es[0], leased[0].ID)
	}
	wantTags(t, "peek of 2", peek("p", 2), "1", "2")
	wantTags(t, "fetch after peek", fetch(t, s, "p", 10, time.Minute), "2", "3")
	if err := s.Ack(ctx, "p", ids(leased)); err != nil {
		t.Fatal(err)
	}
	wantTags(t, "peek after ack", peek("p", 10), "2", "3")
}
