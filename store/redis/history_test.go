package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/store"
)

// TestHistoryInIDKey runs the id-key history checks on one server.
func TestHistoryInIDKey(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	testHistoryInIDKey(t, func(t *testing.T) *Store { return open(t, addr, uniquePrefix(), store.Limits{}) })
}

// TestHistoryInIDKeyCluster runs them on a Redis Cluster, where each
// id's script call is its own.
func TestHistoryInIDKeyCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	testHistoryInIDKey(t, func(t *testing.T) *Store { return openAddrs(t, addrs, "", uniquePrefix(), store.Limits{}) })
}

func testHistoryInIDKey(t *testing.T, open func(t *testing.T) *Store) {
	for _, c := range []struct {
		name string
		f    func(t *testing.T, s *Store)
	}{
		{"LookupAfterEvents", testLookupAfterEvents},
		{"DiesWithID", testHistoryDiesWithID},
		{"UnknownIDLeavesNoKey", testUnknownIDLeavesNoKey},
		{"Latest32", testLatest32},
		{"OldFormat", testOldFormat},
		{"PutAgainKeepsEvents", testPutAgainKeepsEvents},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, open(t)) })
	}
}

func put(t *testing.T, s *Store, id, client string, exp time.Time) {
	t.Helper()
	if err := s.PutIDs(context.Background(), []store.IDRecord{{ID: id, Client: client, Expires: exp}}); err != nil {
		t.Fatal(err)
	}
}

func addEvents(t *testing.T, s *Store, evs ...store.Event) {
	t.Helper()
	if err := s.AddEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func historyOf(t *testing.T, s *Store, id string) []store.Event {
	t.Helper()
	evs, err := s.History(context.Background(), id)
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	return evs
}

// stats returns the Stat of each event, to compare histories.
func stats(evs []store.Event) string {
	out := ""
	for _, e := range evs {
		out += e.Stat + " "
	}
	return out
}

func receipt(id string, i int) store.Event {
	return store.Event{ID: id, Kind: store.EventReceipt, At: time.Unix(1700000000+int64(i), 0), Queue: "c", Stat: fmt.Sprint(i)}
}

// testLookupAfterEvents: the client of an id with events is intact for
// LookupID and LookupIDs, and no history list is written.
func testLookupAfterEvents(t *testing.T, s *Store) {
	ctx := context.Background()
	put(t, s, "a1", "client-a", time.Now().Add(time.Hour))
	addEvents(t, s, store.Event{ID: "a1", Kind: store.EventSubmit, At: time.Now(), Queue: "client-a"}, receipt("a1", 1))
	addEvents(t, s, receipt("a1", 2))
	if c, ok, err := s.LookupID(ctx, "a1"); err != nil || !ok || c != "client-a" {
		t.Errorf("LookupID = %q, %v, %v; want client-a", c, ok, err)
	}
	if cs, found, err := s.LookupIDs(ctx, []string{"a1", "zz"}); err != nil || !found[0] || cs[0] != "client-a" || found[1] {
		t.Errorf("LookupIDs = %q, %v, %v; want client-a and not found", cs, found, err)
	}
	if h := historyOf(t, s, "a1"); len(h) != 3 || h[0].Kind != store.EventSubmit || stats(h[1:]) != "1 2 " {
		t.Errorf("History = %+v, want the submit and receipts 1, 2", h)
	}
	if n, err := s.rdb.Exists(ctx, s.keys.history("a1")).Result(); err != nil || n != 0 {
		t.Errorf("history list exists: %d, %v", n, err)
	}
}

// testHistoryDiesWithID: the events go when ExpireIDs brings the id's
// expiry forward, and they do not lengthen it.
func testHistoryDiesWithID(t *testing.T, s *Store) {
	ctx := context.Background()
	put(t, s, "d1", "c", time.Now().Add(time.Hour))
	addEvents(t, s, store.Event{ID: "d1", Kind: store.EventSubmit, At: time.Now(), Queue: "c", Expires: time.Now().Add(72 * time.Hour)})
	if ttl, err := s.rdb.PTTL(ctx, s.keys.id("d1")).Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("id expires in %v (%v), want within the hour it was put for", ttl, err)
	}
	if err := s.ExpireIDs(ctx, []string{"d1"}, time.Now().Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	addEvents(t, s, receipt("d1", 1)) // after the expiry was shortened
	eventually.That(t, 10*time.Second, "the id and its events gone", func() bool {
		n, err := s.rdb.Exists(ctx, s.keys.id("d1")).Result()
		return err == nil && n == 0
	})
	if h := historyOf(t, s, "d1"); len(h) != 0 {
		t.Errorf("History of an expired id = %+v", h)
	}
}

// testUnknownIDLeavesNoKey: events of an id the store does not hold, in a
// batch with a held one, leave no key behind; the held one's stay.
func testUnknownIDLeavesNoKey(t *testing.T, s *Store) {
	ctx := context.Background()
	put(t, s, "k1", "c", time.Now().Add(time.Hour))
	addEvents(t, s, receipt("ghost", 1), receipt("k1", 2), receipt("ghost", 3))
	if n, err := s.rdb.Exists(ctx, s.keys.id("ghost")).Result(); err != nil || n != 0 {
		t.Errorf("an unknown id's events left its key: EXISTS = %d, %v", n, err)
	}
	if h := historyOf(t, s, "ghost"); len(h) != 0 {
		t.Errorf("History(ghost) = %+v", h)
	}
	if _, ok, _ := s.LookupID(ctx, "ghost"); ok {
		t.Error("an unknown id's events made it known")
	}
	if h := historyOf(t, s, "k1"); stats(h) != "2 " {
		t.Errorf("History(k1) = %+v, want receipt 2", h)
	}
	if ttl, err := s.rdb.PTTL(ctx, s.keys.id("k1")).Result(); err != nil || ttl <= 0 {
		t.Errorf("k1 expires in %v (%v), want its expiry kept", ttl, err)
	}
}

// testLatest32: past store.MaxHistory events the value keeps the client
// and the latest ones, and its expiry.
func testLatest32(t *testing.T, s *Store) {
	ctx := context.Background()
	put(t, s, "m1", "client-m", time.Now().Add(time.Hour))
	want := ""
	for i := range store.MaxHistory + 13 {
		if i >= 13 {
			want += fmt.Sprint(i, " ")
		}
		if i%5 == 0 {
			continue // added below, with the next ones
		}
		evs := []store.Event{receipt("m1", i)}
		if i%5 == 1 {
			evs = append([]store.Event{receipt("m1", i-1)}, evs...)
		}
		addEvents(t, s, evs...)
	}
	if h := historyOf(t, s, "m1"); stats(h) != want {
		t.Errorf("History = %q, want %q", stats(h), want)
	}
	v, err := s.rdb.Get(ctx, s.keys.id("m1")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := decodeFrames(nil, framesOf(v), "m1"); err != nil || len(evs) != store.MaxHistory || clientOf(v) != "client-m" {
		t.Errorf("value holds %q and %d events (%v), want client-m and %d", clientOf(v), len(evs), err, store.MaxHistory)
	}
	if ttl, err := s.rdb.PTTL(ctx, s.keys.id("m1")).Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("trimmed id expires in %v (%v), want its expiry kept", ttl, err)
	}
}

// testOldFormat: an id key holding the client only and a history list,
// as versions before histories moved into the id key wrote them, still
// read, and new events follow the list's.
func testOldFormat(t *testing.T, s *Store) {
	ctx := context.Background()
	if err := s.rdb.Set(ctx, s.keys.id("o1"), "client-o", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.RPush(ctx, s.keys.history("o1"), store.AppendEvent(nil, receipt("o1", 1)), store.AppendEvent(nil, receipt("o1", 2))).Err(); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := s.LookupID(ctx, "o1"); err != nil || !ok || c != "client-o" {
		t.Errorf("LookupID = %q, %v, %v; want client-o", c, ok, err)
	}
	if h := historyOf(t, s, "o1"); stats(h) != "1 2 " {
		t.Errorf("History = %q, want the list's 1 2", stats(h))
	}
	addEvents(t, s, receipt("o1", 3))
	if h := historyOf(t, s, "o1"); stats(h) != "1 2 3 " {
		t.Errorf("History = %q, want the list's then the key's: 1 2 3", stats(h))
	}
	if c, _, _ := s.LookupID(ctx, "o1"); c != "client-o" {
		t.Errorf("LookupID after an event = %q, want client-o", c)
	}
}

// testPutAgainKeepsEvents: PutIDs of an id held (the mux's write-back of
// an id it journaled) keeps its events and takes the new expiry.
func testPutAgainKeepsEvents(t *testing.T, s *Store) {
	ctx := context.Background()
	put(t, s, "p1", "client-p", time.Now().Add(time.Hour))
	addEvents(t, s, receipt("p1", 1), receipt("p1", 2))
	put(t, s, "p1", "client-p", time.Now().Add(2*time.Hour))
	if h := historyOf(t, s, "p1"); stats(h) != "1 2 " {
		t.Errorf("History after a second PutIDs = %q, want 1 2", stats(h))
	}
	if c, _, _ := s.LookupID(ctx, "p1"); c != "client-p" {
		t.Errorf("LookupID = %q, want client-p", c)
	}
	if ttl, err := s.rdb.PTTL(ctx, s.keys.id("p1")).Result(); err != nil || ttl <= time.Hour {
		t.Errorf("id expires in %v (%v), want the second PutIDs' 2h", ttl, err)
	}
}

// TestDecodeFrames: a value whose frames do not split is an error, not a
// short history.
func TestDecodeFrames(t *testing.T) {
	good := string(appendFrame(appendFrame(nil, receipt("x", 1)), receipt("x", 2)))
	if evs, err := decodeFrames(nil, good, "x"); err != nil || stats(evs) != "1 2 " {
		t.Fatalf("decodeFrames = %+v, %v", evs, err)
	}
	for _, bad := range []string{good[:len(good)-1], good[1:], good + "\x00", "\x00\x00\x01x"} {
		if evs, err := decodeFrames(nil, bad, "x"); err == nil {
			t.Errorf("decodeFrames(%q) = %+v, want an error", bad, evs)
		}
	}
}

// TestPutIDsRefusesNULClient: a client with a 0x00 could not be told from
// its history in the id key.
func TestPutIDsRefusesNULClient(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	s := open(t, addr, uniquePrefix(), store.Limits{})
	err := s.PutIDs(context.Background(), []store.IDRecord{{ID: "n1", Client: "a\x00b", Expires: time.Now().Add(time.Hour)}})
	if err == nil {
		t.Fatal("PutIDs of a client with a 0x00 succeeded")
	}
	if _, ok, _ := s.LookupID(context.Background(), "n1"); ok {
		t.Error("the id was stored")
	}
}
