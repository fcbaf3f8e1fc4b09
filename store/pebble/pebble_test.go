package pebble

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/cockroachdb/pebble/v2/vfs"
	bbolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		s, err := Open(path, store.Limits{Sweep: time.Hour}, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(storetest.LoadUntilKilled(s))
	}
	goleak.VerifyTestMain(m)
}

// crashChildEnv names the database directory for a child test process
// that writes under load until it is killed (see TestKilledMidLoad).
const crashChildEnv = "SMPPMUX_PEBBLE_CRASH_CHILD"

// TestKilledMidLoad kills (SIGKILL) a child process while it writes ids,
// reports and acknowledgements (storetest.KilledMidLoad): the database
// must open and hold every id and report whose write returned. A killed
// process loses what it had not written to the log; TestCrash covers what
// was written but not fsynced.
func TestKilledMidLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	storetest.KilledMidLoad(t, crashChildEnv, path, func() store.Store { return open(t, path, store.Limits{Sweep: time.Hour}) })
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "db"), storetest.Limits)
	})
}

func open(t testing.TB, path string, limits store.Limits) *Store {
	t.Helper()
	s, err := Open(path, limits, zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openFS opens a store in a directory of fs (a crashable one).
func openFS(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s := newStore("db", store.Limits{Sweep: time.Hour})
	s.fs = fs
	if err := s.open(context.Background(), zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))); err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func items(client string, tags ...string) []store.Item {
	out := make([]store.Item, len(tags))
	for i, tag := range tags {
		out[i] = store.Item{Client: client, Kind: store.KindReport, Frame: storetest.Frame(tag)}
	}
	return out
}

func fetchTags(t *testing.T, s *Store, client string) (tags, ids []string) {
	t.Helper()
	es, err := s.Fetch(context.Background(), client, 100, time.Hour)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	for _, e := range es {
		tags = append(tags, storetest.Tag(e.Frame))
		ids = append(ids, e.ID)
	}
	return tags, ids
}

// TestReopen: what was written before Close is there after a reopen, the
// acknowledged entries are not, leases are not kept, and new entries
// follow the old ones.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s := open(t, path, store.Limits{})
	exp := time.Now().Add(time.Hour)
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "m1", Client: "shop", Expires: exp}, {ID: "m2", Client: "bank", Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvents(ctx, []store.Event{{ID: "m1", Kind: store.EventSubmit, At: time.Now(), Queue: "shop"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, items("shop", "r1", "r2", "r3")); err != nil {
		t.Fatal(err)
	}
	_, ids := fetchTags(t, s, "shop")
	if err := s.Ack(ctx, "shop", ids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path, store.Limits{})
	defer s.Close()
	for id, want := range map[string]string{"m1": "shop", "m2": "bank"} {
		if c, ok, err := s.LookupID(ctx, id); c != want || !ok || err != nil {
			t.Errorf("LookupID(%s) after reopen = %q, %v, %v; want %s", id, c, ok, err, want)
		}
	}
	if evs, err := s.History(ctx, "m1"); err != nil || len(evs) != 1 {
		t.Errorf("History(m1) after reopen = %v, %v; want one event", evs, err)
	}
	if err := s.Enqueue(ctx, items("shop", "r4")); err != nil {
		t.Fatal(err)
	}
	tags, _ := fetchTags(t, s, "shop")
	if strings.Join(tags, ",") != "r2,r3,r4" {
		t.Errorf("after reopen Fetch = %v, want r2,r3,r4 (r1 acknowledged, leases not kept)", tags)
	}
	if st, err := s.Stats(ctx); err != nil || st.IDs != 2 || st.Queued["shop"] != 3 {
		t.Errorf("Stats after reopen = %+v, %v", st, err)
	}
}

// TestCrash simulates a crash (the machine's: what was not fsynced is
// gone) with a file system that keeps only synced data in its clone:
// every id and report whose call returned is there; an acknowledgement
// is durable once a later synced write returned, and before that may
// only come back (at least once).
func TestCrash(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewCrashableMem()
	s := openFS(t, fs)
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	var recs []store.IDRecord
	for _, id := range []string{"a", "b", "c"} {
		recs = append(recs, store.IDRecord{ID: id, Client: "shop", Expires: exp})
	}
	if err := s.PutIDs(ctx, recs[:1]); err != nil {
		t.Fatal(err)
	}
	if idsErr, itemsErr := s.PutIDsEnqueue(ctx, recs[1:], items("shop", "r1", "r2", "r3")); idsErr != nil || itemsErr != nil {
		t.Fatal(idsErr, itemsErr)
	}
	_, ids := fetchTags(t, s, "shop")
	if err := s.Ack(ctx, "shop", ids[:1]); err != nil { // r1: followed by a synced write
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, items("bank", "b1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, "shop", ids[1:2]); err != nil { // r2: not followed by one
		t.Fatal(err)
	}

	c := openFS(t, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}))
	defer c.Close()
	for _, r := range recs {
		if cl, ok, err := c.LookupID(ctx, r.ID); !ok || cl != "shop" || err != nil {
			t.Errorf("after the crash LookupID(%s) = %q, %v, %v; want shop", r.ID, cl, ok, err)
		}
	}
	tags, _ := fetchTags(t, c, "shop")
	if got := strings.Join(tags, ","); got != "r2,r3" && got != "r3" {
		t.Errorf("after the crash shop's queue = %q; want r3, and r2 at most (its Ack was not synced), never r1", got)
	}
	if tags, _ := fetchTags(t, c, "bank"); strings.Join(tags, ",") != "b1" {
		t.Errorf("after the crash bank's queue = %v, want b1", tags)
	}
}

// TestFetchSkipsTombstones: a queue whose head was acknowledged is read
// from its first live entry, and an Enqueue whose commit is in flight
// when a Fetch moves the head is not skipped.
func TestFetchHead(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "db"), store.Limits{})
	defer s.Close()
	if err := s.Enqueue(ctx, items("shop", "r1", "r2", "r3")); err != nil {
		t.Fatal(err)
	}
	_, ids := fetchTags(t, s, "shop")
	if err := s.Ack(ctx, "shop", ids[:2]); err != nil {
		t.Fatal(err)
	}
	if tags, _ := fetchTags(t, s, "shop"); len(tags) != 0 {
		t.Fatalf("Fetch of a leased queue = %v", tags)
	}
	if head := s.queues["shop"].head; head != 3 {
		t.Errorf("head after r1, r2 acknowledged = %d, want 3", head)
	}
	// An Enqueue that has its sequence numbers but is not committed yet.
	b := s.db.NewBatch()
	done := s.addItems(b, items("shop", "late"))
	if err := s.Ack(ctx, "shop", ids[2:]); err != nil {
		t.Fatal(err)
	}
	if tags, _ := fetchTags(t, s, "shop"); len(tags) != 0 {
		t.Fatalf("Fetch before the commit = %v", tags)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	done()
	_ = b.Close()
	if tags, _ := fetchTags(t, s, "shop"); strings.Join(tags, ",") != "late" {
		t.Errorf("Fetch after the late commit = %v, want late", tags)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	boltFile := filepath.Join(dir, "smpp-mux.db")
	db, err := bbolt.Open(boltFile, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte(strings.Repeat("not a database\n", 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	holder := open(t, locked, store.Limits{})
	defer holder.Close()
	for _, tc := range []struct{ name, path, want string }{
		{"a bolt file", boltFile, "is a store.bolt database, not a pebble directory"},
		{"a file", plain, "is a file, not a directory"},
		{"missing parent", filepath.Join(dir, "no", "such", "db"), "no such file or directory"},
		{"locked", locked, "lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Store{Path: tc.path}
			ctx, cancel := mux.NewContext(context.Background(), zaptest.NewLogger(t))
			defer cancel()
			err := m.Provision(ctx)
			if err == nil {
				t.Fatalf("Provision(%s) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), "store.pebble: open "+tc.path+":") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Provision(%s) = %q; want the path and %q", tc.path, err, tc.want)
			}
			if err := m.Cleanup(); err != nil {
				t.Errorf("Cleanup: %v", err)
			}
		})
	}
	for _, tc := range []struct{ name, path, want string }{
		{"a bolt file", boltFile, "is a store.bolt database"},
		{"missing parent", filepath.Join(dir, "no", "such", "db"), "no such file or directory"},
	} {
		if err := (&Store{Path: tc.path}).Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%s) = %v; want %q", tc.name, err, tc.want)
		}
	}
	if err := (&Store{Path: filepath.Join(dir, "new")}).Check(); err != nil {
		t.Errorf("Check(a new directory) = %v", err)
	}
}

func TestModule(t *testing.T) {
	dir := t.TempDir()
	src := `
[store]
module = "pebble"
dlr_ttl = "72h"
path = "` + filepath.Join(dir, "m.pebble") + `"
retention = "72h"
queue_cap = 100
sweep = "10s"
`
	var raw struct {
		Store toml.Primitive `toml:"store"`
	}
	md, err := toml.Decode(src, &raw)
	if err != nil {
		t.Fatal(err)
	}
	mi, ok := mux.GetModule("store.pebble")
	if !ok {
		t.Fatal("store.pebble not registered")
	}
	m := mi.New().(*Store)
	if err := md.PrimitiveDecode(raw.Store, m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var undecoded []string
	for _, k := range md.Undecoded() {
		undecoded = append(undecoded, k.String())
	}
	if got := strings.Join(undecoded, " "); got != "store.module store.dlr_ttl" {
		t.Errorf("undecoded keys = %q; want only the mux's own", got)
	}
	ctx, cancel := mux.NewContext(context.Background(), zaptest.NewLogger(t))
	defer cancel()
	if err := ctx.LoadModule(mi.ID, m); err != nil {
		t.Fatalf("LoadModule: %v", err)
	}
	want := store.Limits{Retention: 72 * time.Hour, QueueCap: 100, Sweep: 10 * time.Second}
	if m.limits != want {
		t.Errorf("limits = %+v, want %+v", m.limits, want)
	}
	cancel()
	if err := ctx.Cleanup(); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if _, err := m.Stats(context.Background()); err != store.ErrClosed {
		t.Errorf("Stats after Cleanup: %v, want store.ErrClosed", err)
	}
	bad := &Store{QueueCap: -1}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "queue_cap") {
		t.Errorf("Validate(queue_cap -1) = %v", err)
	}
	if err := (&Store{}).Cleanup(); err != nil {
		t.Errorf("Cleanup of a store never provisioned: %v", err)
	}
}

// TestSweep: expired ids go with their histories, shortened ones at their
// new expiry, and queues are cut to the cap with the drops counted.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "db"), store.Limits{QueueCap: 2, Sweep: time.Hour})
	defer s.Close()
	now := time.Now()
	if err := s.PutIDs(ctx, []store.IDRecord{
		{ID: "old", Client: "shop", Expires: now.Add(time.Second)},
		{ID: "final", Client: "shop", Expires: now.Add(time.Hour)},
		{ID: "kept", Client: "shop", Expires: now.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvents(ctx, []store.Event{{ID: "old", Kind: store.EventSubmit, At: now, Queue: "shop"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ExpireIDs(ctx, []string{"final"}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, items("shop", "r1", "r2", "r3", "r4")); err != nil {
		t.Fatal(err)
	}
	s.sweepOnce(now.Add(2 * time.Minute))
	st, err := s.Stats(ctx)
	if err != nil || st.Expired != 2 || st.IDs != 1 || st.Dropped != 2 || st.Queued["shop"] != 2 {
		t.Errorf("Stats after the sweep = %+v, %v; want 2 expired, 1 id, 2 dropped, 2 queued", st, err)
	}
	if v, err := s.get(historyKey(nil, "old")); err != nil || v != nil {
		t.Errorf("history of an expired id = %q, %v; want gone", v, err)
	}
	if c, ok, err := s.LookupID(ctx, "kept"); !ok || c != "shop" || err != nil {
		t.Errorf("LookupID(kept) = %q, %v, %v", c, ok, err)
	}
	if tags, _ := fetchTags(t, s, "shop"); strings.Join(tags, ",") != "r3,r4" {
		t.Errorf("queue after the cap = %v, want r3,r4", tags)
	}
	s.sweepOnce(now.Add(2 * time.Minute)) // nothing left: no more counted
	if st, err := s.Stats(ctx); err != nil || st.Expired != 2 || st.Dropped != 2 {
		t.Errorf("Stats after a second sweep = %+v, %v", st, err)
	}
}
