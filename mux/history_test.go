package mux

import (
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

func TestMessageTraceBuild(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0)
	ev := func(k store.EventKind, s int, queue, stat string) store.Event {
		return store.Event{ID: "a1", Kind: k, At: t0.Add(time.Duration(s) * time.Second), Queue: queue, Stat: stat}
	}
	type want struct {
		queue, stat, state   string
		stored, moved, deliv bool
	}
	cases := []struct {
		name string
		evs  []store.Event
		want []want
	}{
		{"delivered", []store.Event{
			ev(store.EventSubmit, 0, "shop", ""), ev(store.EventReceipt, 1, "shop", "DELIVRD"), ev(store.EventDelivered, 2, "shop", "DELIVRD"),
		}, []want{{"shop", "DELIVRD", "delivered", true, false, true}}},
		{"queued", []store.Event{
			ev(store.EventSubmit, 0, "shop", ""), ev(store.EventReceipt, 1, "shop", "DELIVRD"),
		}, []want{{"shop", "DELIVRD", "queued", true, false, false}}},
		{"orphaned", []store.Event{
			ev(store.EventReceipt, 0, OrphanQueue, "DELIVRD"), ev(store.EventSubmit, 1, "shop", ""),
		}, []want{{OrphanQueue, "DELIVRD", "orphaned", true, false, false}}},
		{"moved and delivered", []store.Event{
			ev(store.EventReceipt, 0, OrphanQueue, "DELIVRD"), ev(store.EventSubmit, 1, "shop", ""),
			ev(store.EventMoved, 2, "shop", "DELIVRD"), ev(store.EventDelivered, 3, "shop", "DELIVRD"),
		}, []want{{"shop", "DELIVRD", "delivered", true, true, true}}},
		{"moved, its storing not kept", []store.Event{
			ev(store.EventSubmit, 0, "shop", ""), ev(store.EventMoved, 2, "shop", "UNDELIV"),
		}, []want{{"shop", "UNDELIV", "queued", false, true, false}}},
		{"moved, its storing not kept but known", []store.Event{
			ev(store.EventSubmit, 0, "shop", ""), func() store.Event { e := ev(store.EventMoved, 2, "shop", "UNDELIV"); e.Since = t0; return e }(),
		}, []want{{"shop", "UNDELIV", "queued", true, true, false}}},
		{"delivery matched by stat", []store.Event{
			ev(store.EventSubmit, 0, "shop", ""), ev(store.EventReceipt, 1, "shop", "ENROUTE"), ev(store.EventReceipt, 2, "shop", "DELIVRD"),
			ev(store.EventDelivered, 3, "shop", "DELIVRD"),
		}, []want{{"shop", "ENROUTE", "queued", true, false, false}, {"shop", "DELIVRD", "delivered", true, false, true}}},
		{"written out of order by two instances", []store.Event{
			ev(store.EventSubmit, 0, "shop", ""), ev(store.EventDelivered, 2, "shop", "DELIVRD"), ev(store.EventReceipt, 1, "shop", "DELIVRD"),
		}, []want{{"shop", "DELIVRD", "delivered", true, false, true}}},
		{"delivery without its receipt", []store.Event{
			ev(store.EventSubmit, 0, "shop", ""), ev(store.EventDelivered, 3, "shop", "DELIVRD"),
		}, []want{{"shop", "DELIVRD", "delivered", false, false, true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tr MessageTrace
			tr.build(tc.evs)
			if len(tr.Receipts) != len(tc.want) {
				t.Fatalf("receipts: %+v, want %d", tr.Receipts, len(tc.want))
			}
			for i, w := range tc.want {
				r := tr.Receipts[i]
				if r.Queue != w.queue || r.Stat != w.stat || r.State != w.state ||
					(r.Stored != nil) != w.stored || (r.Moved != nil) != w.moved || (r.Delivered != nil) != w.deliv {
					t.Errorf("receipt %d: %+v, want %+v", i, r, w)
				}
			}
		})
	}
}
