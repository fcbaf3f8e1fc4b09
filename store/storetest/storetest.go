// Package storetest is the contract suite every store.Store must pass.
// A store module's test calls Run with a function that opens a fresh,
// empty store with Limits, made by the config loader (Load) as the mux
// makes it from a [store] table:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			return storetest.Load(t, `module = "memory"`+"\n"+storetest.LimitKeys(storetest.Limits, false))
//		})
//	}
//
// The suite closes every store it opens. Cases that wait for a store's
// sweep (queue cap, retention, lease expiry) poll with a bound and never
// sleep as synchronisation beyond the time they wait out on purpose.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/store"
)

// Limits are the limits open must give the store under test: small enough
// that retention and the queue cap are seen within a test, a sweep fast
// enough that a store which applies them in its sweep does so promptly.
var Limits = store.Limits{
	Retention: 1500 * time.Millisecond,
	QueueCap:  200,
	Sweep:     20 * time.Millisecond,
}

// Run runs the contract suite against stores made by open. open is called
// once per case with that case's t; the store it returns must be empty and
// use Limits. The suite closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"IDs", testIDs},
		{"IDExpiry", testIDExpiry},
		{"LookupIDs", testLookupIDs},
		{"ExpireIDs", testExpireIDs},
		{"PutIDsEnqueue", testPutIDsEnqueue},
		{"Order", testOrder},
		{"Kinds", testKinds},
		{"FrameCopied", testFrameCopied},
		{"FetchMax", testFetchMax},
		{"Lease", testLease},
		{"EnqueueLeased", testEnqueueLeased},
		{"LeasedJointWrite", testLeasedJointWrite},
		{"LeaseExpires", testLeaseExpires},
		{"AckUnknown", testAckUnknown},
		{"QueueCap", testQueueCap},
		{"Retention", testRetention},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
		{"History", testHistory},
		{"Peek", testPeek},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// Frame returns a fake deliver_sm frame that carries tag, so a test can
// tell items apart after a round trip through a store.
func Frame(tag string) []byte {
	b := make([]byte, 16, 16+len(tag))
	b[3] = byte(16 + len(tag))
	b[7] = 0x05 // deliver_sm
	return append(b, tag...)
}

// Tag returns the tag Frame put in f.
func Tag(f []byte) string {
	if len(f) < 16 {
		return ""
	}
	return string(f[16:])
}

func enqueue(t testing.TB, s store.Store, items ...store.Item) {
	t.Helper()
	if err := s.Enqueue(context.Background(), items); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

// enqueueTags queues one report per tag for client, one call per item.
func enqueueTags(t testing.TB, s store.Store, client string, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		enqueue(t, s, store.Item{Client: client, Kind: store.KindReport, Frame: Frame(tag)})
	}
}

func fetch(t testing.TB, s store.Store, client string, max int, lease time.Duration) []store.Entry {
	t.Helper()
	es, err := s.Fetch(context.Background(), client, max, lease)
	if err != nil {
		t.Fatalf("Fetch(%q): %v", client, err)
	}
	return es
}

func tags(es []store.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = Tag(e.Frame)
	}
	return out
}

func ids(es []store.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func wantTags(t testing.TB, what string, es []store.Entry, want ...string) {
	t.Helper()
	got := tags(es)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got tags %q, want %q", what, got, want)
	}
}

func stats(t testing.TB, s store.Store) store.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

func testIDs(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if err := s.PutIDs(ctx, nil); err != nil {
		t.Fatalf("PutIDs(nil): %v", err)
	}
	recs := []store.IDRecord{{ID: "a1", Client: "shop", Expires: exp}, {ID: "a2", Client: "bank", Expires: exp}, {ID: "0b3F", Client: "shop", Expires: exp}}
	if err := s.PutIDs(ctx, recs); err != nil {
		t.Fatalf("PutIDs: %v", err)
	}
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "a2", Client: "news", Expires: exp}}); err != nil {
		t.Fatalf("PutIDs (overwrite): %v", err)
	}
	for _, tc := range []struct {
		id, client string
		ok         bool
	}{{"a1", "shop", true}, {"a2", "news", true}, {"0b3F", "shop", true}, {"0b3f", "", false}, {"zz", "", false}} {
		c, ok, err := s.LookupID(ctx, tc.id)
		if err != nil || ok != tc.ok || c != tc.client {
			t.Errorf("LookupID(%q) = %q, %v, %v; want %q, %v, nil", tc.id, c, ok, err, tc.client, tc.ok)
		}
	}
	if st := stats(t, s); st.IDs < 1 {
		t.Errorf("Stats.IDs = %d after three ids", st.IDs)
	}
}

func testIDExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	recs := []store.IDRecord{
		{ID: "past", Client: "shop", Expires: now.Add(-time.Second)},
		{ID: "soon", Client: "shop", Expires: now.Add(150 * time.Millisecond)},
		{ID: "later", Client: "shop", Expires: now.Add(time.Hour)},
	}
	if err := s.PutIDs(ctx, recs); err != nil {
		t.Fatalf("PutIDs: %v", err)
	}
	if _, ok, err := s.LookupID(ctx, "past"); ok || err != nil {
		t.Errorf("LookupID(past) = %v, %v; want not found", ok, err)
	}
	eventually.That(t, 5*time.Second, "id \"soon\" did not expire", func() bool {
		_, ok, err := s.LookupID(ctx, "soon")
		return !ok && err == nil
	})
	if c, ok, err := s.LookupID(ctx, "later"); !ok || c != "shop" || err != nil {
		t.Errorf("LookupID(later) = %q, %v, %v; want shop", c, ok, err)
	}
}

// testExpireIDs checks a store's ExpireIDs, if it has one: an id brought
// forward expires then, with its sweep (or at lookup) as any id; an id
// already expiring earlier keeps its expiry (never extended); ids not
// named keep theirs; unknown ids and an empty call are no errors.
func testExpireIDs(t *testing.T, s store.Store) {
	ex, ok := s.(store.IDExpirer)
	if !ok {
		t.Skip("the store has no ExpireIDs")
	}
	ctx := context.Background()
	now := time.Now()
	recs := []store.IDRecord{
		{ID: "final", Client: "shop", Expires: now.Add(time.Hour)},
		{ID: "early", Client: "shop", Expires: now.Add(300 * time.Millisecond)},
		{ID: "kept", Client: "shop", Expires: now.Add(time.Hour)},
	}
	if err := s.PutIDs(ctx, recs); err != nil {
		t.Fatalf("PutIDs: %v", err)
	}
	if err := ex.ExpireIDs(ctx, nil, now); err != nil {
		t.Fatalf("ExpireIDs(nil): %v", err)
	}
	if err := ex.ExpireIDs(ctx, []string{"final", "early", "unknown"}, now.Add(200*time.Millisecond)); err != nil {
		t.Fatalf("ExpireIDs: %v", err)
	}
	if c, ok, err := s.LookupID(ctx, "final"); !ok || c != "shop" || err != nil {
		t.Errorf("LookupID(final) at once = %q, %v, %v; want shop until its new expiry", c, ok, err)
	}
	eventually.That(t, 5*time.Second, "id \"final\" did not expire at its earlier expiry", func() bool {
		_, ok, err := s.LookupID(ctx, "final")
		return !ok && err == nil
	})
	eventually.That(t, 5*time.Second, "id \"early\" did not expire", func() bool {
		_, ok, err := s.LookupID(ctx, "early")
		return !ok && err == nil
	})
	if c, ok, err := s.LookupID(ctx, "kept"); !ok || c != "shop" || err != nil {
		t.Errorf("LookupID(kept) = %q, %v, %v; want shop", c, ok, err)
	}
	// Never extended: "kept" brought forward to 1 s, then asked for an hour.
	if err := ex.ExpireIDs(ctx, []string{"kept"}, now.Add(time.Second)); err != nil {
		t.Fatalf("ExpireIDs(kept): %v", err)
	}
	if err := ex.ExpireIDs(ctx, []string{"kept"}, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("ExpireIDs(kept, later): %v", err)
	}
	eventually.That(t, 5*time.Second, "id \"kept\" did not expire at the earlier of its expiries", func() bool {
		_, ok, err := s.LookupID(ctx, "kept")
		return !ok && err == nil
	})
}

// testLookupIDs checks a store's batch lookup, if it has one, against
// LookupID: found, not found, expired, overwritten, repeated ids, in one
// call; and an empty call.
func testLookupIDs(t *testing.T, s store.Store) {
	bl, ok := s.(store.IDBatchLookup)
	if !ok {
		t.Skip("the store has no LookupIDs")
	}
	ctx := context.Background()
	now := time.Now()
	var recs []store.IDRecord
	for i := range 300 {
		recs = append(recs, store.IDRecord{ID: fmt.Sprintf("b%04x", i), Client: fmt.Sprintf("c%d", i%7), Expires: now.Add(time.Hour)})
	}
	recs = append(recs, store.IDRecord{ID: "gone", Client: "shop", Expires: now.Add(-time.Second)})
	if err := s.PutIDs(ctx, recs); err != nil {
		t.Fatalf("PutIDs: %v", err)
	}
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "b0001", Client: "news", Expires: now.Add(time.Hour)}}); err != nil {
		t.Fatalf("PutIDs (overwrite): %v", err)
	}
	ids := []string{"b0001", "missing", "gone", "b0000", "B0000", "b0001"}
	for i := 299; i >= 2; i -= 3 {
		ids = append(ids, fmt.Sprintf("b%04x", i))
	}
	clients, found, err := bl.LookupIDs(ctx, ids)
	if err != nil {
		t.Fatalf("LookupIDs: %v", err)
	}
	if len(clients) != len(ids) || len(found) != len(ids) {
		t.Fatalf("LookupIDs(%d ids) = %d clients, %d found", len(ids), len(clients), len(found))
	}
	for i, id := range ids {
		c, ok, err := s.LookupID(ctx, id)
		if err != nil {
			t.Fatalf("LookupID(%q): %v", id, err)
		}
		if clients[i] != c || found[i] != ok {
			t.Errorf("LookupIDs: %q = %q, %v; LookupID says %q, %v", id, clients[i], found[i], c, ok)
		}
	}
	if !found[0] || clients[0] != "news" || found[1] || found[2] || !found[3] || clients[3] != "c0" || found[4] {
		t.Errorf("LookupIDs(%q) = %q, %v", ids[:5], clients[:5], found[:5])
	}
	clients, found, err = bl.LookupIDs(ctx, nil)
	if err != nil || len(clients) != 0 || len(found) != 0 {
		t.Errorf("LookupIDs(nil) = %q, %v, %v", clients, found, err)
	}
}

// testPutIDsEnqueue checks a store's joint write, if it has one: both
// halves land, either may be empty, and a half that fails on its own
// (an empty id, where the store refuses one in PutIDs) does not fail the
// other.
func testPutIDsEnqueue(t *testing.T, s store.Store) {
	jw, ok := s.(store.JointWriter)
	if !ok {
		t.Skip("the store has no PutIDsEnqueue")
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	idsErr, itemsErr := jw.PutIDsEnqueue(ctx, []store.IDRecord{{ID: "j1", Client: "shop", Expires: exp}},
		[]store.Item{{Client: "j", Kind: store.KindReport, Frame: Frame("j1")}, {Client: "k", Kind: store.KindMO, Frame: Frame("k1")}})
	if idsErr != nil || itemsErr != nil {
		t.Fatalf("PutIDsEnqueue = %v, %v", idsErr, itemsErr)
	}
	if idsErr, itemsErr = jw.PutIDsEnqueue(ctx, []store.IDRecord{{ID: "j2", Client: "bank", Expires: exp}}, nil); idsErr != nil || itemsErr != nil {
		t.Fatalf("PutIDsEnqueue(ids only) = %v, %v", idsErr, itemsErr)
	}
	if idsErr, itemsErr = jw.PutIDsEnqueue(ctx, nil, []store.Item{{Client: "j", Kind: store.KindReport, Frame: Frame("j2")}}); idsErr != nil || itemsErr != nil {
		t.Fatalf("PutIDsEnqueue(items only) = %v, %v", idsErr, itemsErr)
	}
	if idsErr, itemsErr = jw.PutIDsEnqueue(ctx, nil, nil); idsErr != nil || itemsErr != nil {
		t.Fatalf("PutIDsEnqueue(nothing) = %v, %v", idsErr, itemsErr)
	}
	for id, want := range map[string]string{"j1": "shop", "j2": "bank"} {
		if c, ok, err := s.LookupID(ctx, id); !ok || c != want || err != nil {
			t.Errorf("LookupID(%s) = %q, %v, %v; want %s", id, c, ok, err, want)
		}
	}
	wantTags(t, "client j", fetch(t, s, "j", 10, time.Minute), "j1", "j2")
	wantTags(t, "client k", fetch(t, s, "k", 10, time.Minute), "k1")

	bad := []store.IDRecord{{ID: "", Client: "shop", Expires: exp}}
	if err := s.PutIDs(ctx, bad); err == nil {
		return // the store takes an empty id: nothing to fail
	}
	idsErr, itemsErr = jw.PutIDsEnqueue(ctx, bad, []store.Item{{Client: "j", Kind: store.KindReport, Frame: Frame("j3")}})
	if idsErr == nil || itemsErr != nil {
		t.Fatalf("PutIDsEnqueue(empty id, good item) = %v, %v; want an error for the ids only", idsErr, itemsErr)
	}
	wantTags(t, "client j after a failed half", fetch(t, s, "j", 10, time.Minute), "j3")
}

func testOrder(t *testing.T, s store.Store) {
	enqueueTags(t, s, "a", "a1", "a2")
	enqueue(t, s,
		store.Item{Client: "b", Kind: store.KindReport, Frame: Frame("b1")},
		store.Item{Client: "a", Kind: store.KindReport, Frame: Frame("a3")},
		store.Item{Client: "a", Kind: store.KindMO, Frame: Frame("a4")},
		store.Item{Client: "b", Kind: store.KindMO, Frame: Frame("b2")},
	)
	enqueueTags(t, s, "a", "a5")
	a := fetch(t, s, "a", 100, time.Minute)
	wantTags(t, "client a", a, "a1", "a2", "a3", "a4", "a5")
	wantTags(t, "client b", fetch(t, s, "b", 100, time.Minute), "b1", "b2")
	wantTags(t, "client c", fetch(t, s, "c", 100, time.Minute))
	seen := map[string]bool{}
	for _, id := range ids(a) {
		if id == "" || seen[id] {
			t.Fatalf("entry ids %q: empty or repeated", ids(a))
		}
		seen[id] = true
	}
	st := stats(t, s)
	if st.Queued["a"] != 5 || st.Queued["b"] != 2 {
		t.Errorf("Stats.Queued = %v, want a:5 b:2 (leased entries count)", st.Queued)
	}
	// Ids of one client mean nothing in another's queue.
	if err := s.Ack(context.Background(), "b", ids(a)); err != nil {
		t.Fatalf("Ack(b, ids of a): %v", err)
	}
	if err := s.Release(context.Background(), "a", ids(a)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantTags(t, "client a after acking its ids under b", fetch(t, s, "a", 100, time.Minute), "a1", "a2", "a3", "a4", "a5")
}

func testKinds(t *testing.T, s store.Store) {
	before := time.Now().Add(-time.Millisecond)
	enqueue(t, s,
		store.Item{Client: "k", Kind: store.KindMO, Frame: Frame("mo")},
		store.Item{Client: "k", Kind: store.KindReport, Frame: Frame("dlr")},
	)
	after := time.Now().Add(time.Millisecond)
	es := fetch(t, s, "k", 10, time.Minute)
	wantTags(t, "client k", es, "mo", "dlr")
	if es[0].Kind != store.KindMO || es[1].Kind != store.KindReport {
		t.Errorf("kinds = %v, %v; want %v, %v", es[0].Kind, es[1].Kind, store.KindMO, store.KindReport)
	}
	for _, e := range es {
		if e.Enqueued.Before(before) || e.Enqueued.After(after) {
			t.Errorf("Enqueued = %v, want within [%v, %v]", e.Enqueued, before, after)
		}
	}
}

func testFrameCopied(t *testing.T, s store.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat([]byte{0xA5, 0x00, 0xFF}, 20000)
	frames := [][]byte{all, big, {}, Frame("x")}
	buf := make([]byte, 0, 70000)
	for _, f := range frames {
		buf = append(buf[:0], f...)
		enqueue(t, s, store.Item{Client: "f", Kind: store.KindReport, Frame: buf})
		for i := range buf {
			buf[i] = 0xEE // the caller reuses its buffer
		}
	}
	check := func(what string) []store.Entry {
		es := fetch(t, s, "f", 10, time.Minute)
		if len(es) != len(frames) {
			t.Fatalf("%s: fetched %d entries, want %d", what, len(es), len(frames))
		}
		for i, e := range es {
			if !bytes.Equal(e.Frame, frames[i]) {
				t.Fatalf("%s: frame %d differs (len %d, want %d)", what, i, len(e.Frame), len(frames[i]))
			}
		}
		return es
	}
	es := check("first fetch")
	for _, e := range es {
		for i := range e.Frame {
			e.Frame[i] = 0xDD // the fetcher owns what it got
		}
	}
	if err := s.Release(context.Background(), "f", ids(es)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	check("after the fetcher wrote over its frames")
}

func testFetchMax(t *testing.T, s store.Store) {
	enqueueTags(t, s, "m", seq("m", 5)...)
	if es := fetch(t, s, "m", 0, time.Minute); len(es) != 0 {
		t.Errorf("Fetch(max 0) = %d entries", len(es))
	}
	wantTags(t, "max 2", fetch(t, s, "m", 2, time.Minute), "m0000", "m0001")
	wantTags(t, "max 2 again", fetch(t, s, "m", 2, time.Minute), "m0002", "m0003")
	wantTags(t, "rest", fetch(t, s, "m", 2, time.Minute), "m0004")
}
