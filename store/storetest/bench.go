package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

// ReceiptCycle is a benchmark body that runs a store's side of the
// receipts path as the mux drives it, one op per message: per cycle of
// 256 messages over 16 clients, one PutIDs of their ids (ascending, as
// the provider's are), one lookup of each id, one Enqueue of their
// reports, and per client Fetch calls of at most 10 (a bind's deliver
// window), then one Ack per client of what it fetched. With trace, it
// adds what the mux's defaults add: the history's three events per
// message (submit, receipt, delivered; each AddEvents call a batch) and
// one ExpireIDs of the cycle's ids (each receipt final, final_ttl); s must
// then implement store.History and store.IDExpirer. It returns the
// messages run, for the caller's per-message metrics.
func ReceiptCycle(b *testing.B, s store.Store, trace bool) (msgs int) {
	const (
		cycle   = 256
		clients = 16
		window  = 10
	)
	ctx := context.Background()
	names := make([]string, clients)
	for i := range names {
		names[i] = "client-" + strconv.Itoa(i)
	}
	exp := time.Now().Add(72 * time.Hour)
	recs := make([]store.IDRecord, cycle)
	items := make([]store.Item, cycle)
	ids := make([]string, cycle)
	next := uint64(0xc0ffee) << 32
	events := func(kind store.EventKind, stat string) {
		if !trace {
			return
		}
		evs := make([]store.Event, cycle)
		now := time.Now()
		for i, r := range recs {
			evs[i] = store.Event{ID: r.ID, Kind: kind, At: now, Queue: r.Client, Stat: stat, Expires: exp}
		}
		if err := s.(store.History).AddEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if msgs%cycle == 0 {
			for i := range recs {
				next++
				recs[i] = store.IDRecord{ID: strconv.FormatUint(next, 16), Client: names[i%clients], Expires: exp}
				items[i] = store.Item{Client: names[i%clients], Kind: store.KindReport, Frame: reportFrame}
				ids[i] = recs[i].ID
			}
			if err := s.PutIDs(ctx, recs); err != nil {
				b.Fatal(err)
			}
			events(store.EventSubmit, "")
			for _, r := range recs {
				if c, ok, err := s.LookupID(ctx, r.ID); !ok || err != nil || c != r.Client {
					b.Fatalf("LookupID(%s) = %q, %v, %v", r.ID, c, ok, err)
				}
			}
			if err := s.Enqueue(ctx, items); err != nil {
				b.Fatal(err)
			}
			events(store.EventReceipt, "DELIVRD")
			if trace {
				if err := s.(store.IDExpirer).ExpireIDs(ctx, ids, time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range names {
				var ids []string
				for {
					es, err := s.Fetch(ctx, c, window, time.Minute)
					if err != nil {
						b.Fatal(err)
					}
					if len(es) == 0 {
						break
					}
					for _, e := range es {
						ids = append(ids, e.ID)
					}
				}
				if err := s.Ack(ctx, c, ids); err != nil {
					b.Fatal(err)
				}
			}
			events(store.EventDelivered, "DELIVRD")
		}
		msgs++
	}
	return msgs
}

// reportFrame is about the size of a deliver_sm carrying a receipt.
var reportFrame = Frame("id:0123456789abcdef sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:hello world, a report of ordinary size")
