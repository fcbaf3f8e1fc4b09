package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(runCrashChild())
	}
	goleak.VerifyTestMain(m)
}

// TestContract runs the contract suite on stores made by the config
// loader, as [store] module = "bolt" makes them.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return storetest.Load(t, fmt.Sprintf("module = \"bolt\"\npath = %q\n", filepath.Join(t.TempDir(), "s.db"))+
			storetest.LimitKeys(storetest.Limits, true))
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

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path, store.Limits{})
	exp := time.Now().Add(time.Hour)
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "m1", Client: "shop", Expires: exp}, {ID: "m2", Client: "bank", Expires: exp}}); err != nil {
		t.Fatalf("PutIDs: %v", err)
	}
	var items []store.Item
	for _, tag := range []string{"r1", "r2", "r3", "r4"} {
		items = append(items, store.Item{Client: "shop", Kind: store.KindReport, Frame: storetest.Frame(tag)})
	}
	if err := s.Enqueue(ctx, items); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	es, err := s.Fetch(ctx, "shop", 3, time.Hour)
	if err != nil || len(es) != 3 {
		t.Fatalf("Fetch = %d entries, %v", len(es), err)
	}
	if err := s.Ack(ctx, "shop", []string{es[0].ID}); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	// es[1] and es[2] stay leased (for an hour) when the process "dies".
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
	again, err := s.Fetch(ctx, "shop", 10, time.Hour)
	if err != nil {
		t.Fatalf("Fetch after reopen: %v", err)
	}
	var got []string
	for _, e := range again {
		got = append(got, storetest.Tag(e.Frame))
	}
	if strings.Join(got, ",") != "r2,r3,r4" {
		t.Fatalf("after reopen fetched %q, want r2,r3,r4 (leased entries come back)", got)
	}
	if again[0].ID != es[1].ID {
		t.Errorf("entry id changed over reopen: %s then %s", es[1].ID, again[0].ID)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.IDs != 2 || st.Queued["shop"] != 3 {
		t.Errorf("Stats after reopen = %+v, %v; want 2 ids, shop:3", st, err)
	}
	// New entries sort after the old ones: the sequence survived.
	if err := s.Enqueue(ctx, []store.Item{{Client: "shop", Kind: store.KindMO, Frame: storetest.Frame("r5")}}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if err := s.Release(ctx, "shop", []string{again[0].ID, again[1].ID, again[2].ID}); err != nil {
		t.Fatalf("Release: %v", err)
	}
	last, err := s.Fetch(ctx, "shop", 10, time.Hour)
	if err != nil || len(last) != 4 || storetest.Tag(last[3].Frame) != "r5" || seqOf(t, last[3].ID) <= seqOf(t, es[2].ID) {
		t.Errorf("after reopen and enqueue: %d entries, %v; want r5 last with a new id", len(last), err)
	}
}

func seqOf(t *testing.T, id string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		t.Fatalf("entry id %q: %v", id, err)
	}
	return n
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notBolt := filepath.Join(dir, "text.db")
	if err := os.WriteFile(notBolt, []byte(strings.Repeat("this is not a bolt database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked.db")
	holder := open(t, locked, store.Limits{})
	defer holder.Close()
	cases := []struct{ name, path, want string }{
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "s.db"), "no such file or directory"},
		{"a directory", dir, "is a directory"},
		{"not a bolt file", notBolt, "invalid database"},
		{"locked", locked, "locked by another process"},
	}
	if os.Geteuid() != 0 { // root ignores file modes
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, path, want string }{"no permission", filepath.Join(ro, "s.db"), "permission denied"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Store{Path: tc.path}
			ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(t))
			defer cancel()
			err := m.Provision(ctx)
			if err == nil {
				t.Fatalf("Provision(%s) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), "store.bolt: open "+tc.path+":") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Provision(%s) = %q; want the path and %q", tc.path, err, tc.want)
			}
			if err := m.Cleanup(); err != nil { // Cleanup after a failed Provision
				t.Errorf("Cleanup: %v", err)
			}
		})
	}
}

func TestModule(t *testing.T) {
	dir := t.TempDir()
	src := `
[store]
module = "bolt"
dlr_ttl = "72h"
path = "` + filepath.Join(dir, "m.db") + `"
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
	mi, ok := module.Get("store.bolt")
	if !ok {
		t.Fatal("store.bolt not registered")
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
	ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(t))
	defer cancel()
	if err := ctx.LoadModule(mi.ID, m); err != nil {
		t.Fatalf("LoadModule: %v", err)
	}
	want := store.Limits{Retention: 72 * time.Hour, QueueCap: 100, Sweep: 10 * time.Second}
	if m.limits != want {
		t.Errorf("limits = %+v, want %+v", m.limits, want)
	}
	cancel() // the config is replaced: the sweep stops, the store still answers until Cleanup
	if _, err := m.Stats(context.Background()); err != nil {
		t.Errorf("Stats before Cleanup: %v", err)
	}
	if err := ctx.Cleanup(); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if _, err := m.Stats(context.Background()); err != store.ErrClosed {
		t.Errorf("Stats after Cleanup: %v, want store.ErrClosed", err)
	}

	bad := &Store{Path: filepath.Join(dir, "bad.db"), Limits: store.Limits{QueueCap: -1}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "queue_cap") {
		t.Errorf("Validate(queue_cap -1) = %v", err)
	}
	if err := (&Store{}).Cleanup(); err != nil {
		t.Errorf("Cleanup of a store never provisioned: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	m := new(Store)
	ctx, cancel := module.NewContext(context.Background(), nil)
	defer cancel()
	if err := m.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	defer m.Cleanup()
	if _, err := os.Stat(DefaultPath); err != nil {
		t.Errorf("default path: %v", err)
	}
	want := store.Limits{Retention: 48 * time.Hour, QueueCap: 25000, Sweep: time.Minute}
	if m.limits != want {
		t.Errorf("limits = %+v, want %+v", m.limits, want)
	}
}

// TestSweep checks the counters and that each sweep logs its drops once.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), store.Limits{QueueCap: 10, Sweep: time.Hour}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	recs := []store.IDRecord{
		{ID: "a", Client: "c", Expires: now.Add(time.Second)},
		{ID: "b", Client: "c", Expires: now.Add(time.Second)},
		{ID: "keep", Client: "c", Expires: now.Add(time.Second)},
		{ID: "zero", Client: "c"},
	}
	if err := s.PutIDs(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// Moving an id's expiry later must keep it past the old expiry.
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "keep", Client: "d", Expires: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	var items []store.Item
	for range 25 {
		items = append(items, store.Item{Client: "c", Kind: store.KindReport, Frame: storetest.Frame("x")})
	}
	if err := s.Enqueue(ctx, items); err != nil {
		t.Fatal(err)
	}
	// Leases of entries the sweep removes are forgotten.
	if _, err := s.Fetch(ctx, "c", 5, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.sweepOnce(now.Add(2 * time.Second))
	s.sweepOnce(now.Add(2 * time.Second)) // nothing left to do: no second log line
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Expired != 3 || st.IDs != 1 || st.Dropped != 15 || st.Queued["c"] != 10 {
		t.Errorf("Stats = %+v; want 3 expired, 1 id, 15 dropped, c:10", st)
	}
	if c, ok, _ := s.LookupID(ctx, "keep"); !ok || c != "d" {
		t.Errorf("LookupID(keep) = %q, %v; want d", c, ok)
	}
	if n := len(s.leases["c"]); n != 0 {
		t.Errorf("%d leases kept for removed entries", n)
	}
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 || warns[0].ContextMap()["beyond_queue_cap"] != int64(15) {
		t.Errorf("warn logs = %+v; want one line with beyond_queue_cap 15", warns)
	}
}

// TestSweepChunks checks that a backlog larger than one sweep transaction
// is removed in several.
func TestSweepChunks(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "s.db"), store.Limits{Sweep: time.Hour})
	defer s.Close()
	items := make([]store.Item, 25)
	for i := range items {
		items[i] = store.Item{Client: "c", Kind: store.KindReport, Frame: storetest.Frame("x")}
	}
	if err := s.Enqueue(ctx, items); err != nil {
		t.Fatal(err)
	}
	var removed int
	for more := true; more; {
		ret, capped, m, err := s.trimQueue("c", time.Now().Add(49*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		removed += len(ret) + len(capped)
		more = m
	}
	if removed != 25 {
		t.Errorf("removed %d in chunks of 10, want 25", removed)
	}
}
