package redis

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// After a failed dial go-redis retries in a goroutine that sleeps a
		// second between tries and ends on its own after Close.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

var prefixes atomic.Int64

// uniquePrefix keeps the stores of one Redis apart, as storetest wants
// every store it opens empty.
func uniquePrefix() string { return fmt.Sprintf("t%d", prefixes.Add(1)) }

func open(t testing.TB, addr, prefix string, limits store.Limits, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithPrefix(prefix)}, opts...)
	s, err := Open(context.Background(), "redis://"+addr+"/0", limits, zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store { // made by the config loader
		return storetest.Load(t, fmt.Sprintf("module = \"redis\"\nurl = %q\nprefix = %q\n", "redis://"+addr+"/0", uniquePrefix())+
			storetest.LimitKeys(storetest.Limits, true))
	})
}

// openAddrs makes a store on addrs (a cluster, or Sentinels with
// sentinel_master) through the config loader.
func openAddrs(t testing.TB, addrs []string, sentinelMaster, prefix string, limits store.Limits) *Store {
	t.Helper()
	quoted := make([]string, len(addrs))
	for i, a := range addrs {
		quoted[i] = strconv.Quote(a)
	}
	keys := fmt.Sprintf("module = \"redis\"\naddrs = [%s]\nprefix = %q\n", strings.Join(quoted, ", "), prefix)
	if sentinelMaster != "" {
		keys += fmt.Sprintf("sentinel_master = %q\n", sentinelMaster)
	}
	return storetest.Load(t, keys+storetest.LimitKeys(limits, true)).(*Store)
}

// TestContractCluster runs the contract suite on a three-master Redis
// Cluster: every multi-key command and script touches one slot, and
// nothing needs one keyspace.
func TestContractCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openAddrs(t, addrs, "", uniquePrefix(), storetest.Limits)
		if _, ok := s.rdb.(*goredis.ClusterClient); !ok {
			t.Fatalf("client is %T, want a cluster client", s.rdb)
		}
		return s
	})
}

// TestContractSentinel runs the contract suite through a Sentinel.
func TestContractSentinel(t *testing.T) {
	sentinel, _ := redistest.StartSentinel(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAddrs(t, []string{sentinel}, redistest.SentinelMaster, uniquePrefix(), storetest.Limits)
	})
}

// TestClusterSpread checks that on a cluster the clients' queues and the
// ids land on every master, and that two instances share them.
func TestClusterSpread(t *testing.T) {
	ctx := context.Background()
	addrs := redistest.StartCluster(t)
	p := uniquePrefix()
	a, b := openAddrs(t, addrs, "", p, store.Limits{}), openAddrs(t, addrs, "", p, store.Limits{})
	var recs []store.IDRecord
	var its []store.Item
	for i := range 60 {
		c := fmt.Sprintf("c%d", i%20)
		recs = append(recs, store.IDRecord{ID: fmt.Sprint("m", i), Client: c, Expires: time.Now().Add(time.Hour)})
		its = append(its, store.Item{Client: c, Kind: store.KindReport, Frame: storetest.Frame(fmt.Sprint("r", i))})
	}
	if err := a.PutIDs(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := a.Enqueue(ctx, its); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	clients, found, err := b.LookupIDs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if !found[i] || clients[i] != recs[i].Client {
			t.Fatalf("B LookupIDs(%s) = %q, %v", ids[i], clients[i], found[i])
		}
	}
	cc := a.rdb.(*goredis.ClusterClient)
	var masters atomic.Int64
	err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		if k, err := n.DBSize(ctx).Result(); err != nil || k == 0 {
			return fmt.Errorf("master %s holds %d keys: %v", n.Options().Addr, k, err)
		}
		masters.Add(1)
		return nil
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("keys not on every master (%d): %v", masters.Load(), err)
	}
	st, err := b.Stats(ctx)
	if err != nil || len(st.Queued) != 20 || st.Queued["c0"] != 3 {
		t.Fatalf("B Stats = %+v, %v; want 20 clients with 3 each", st, err)
	}
	for c := range st.Queued {
		es := mustFetch(t, b, c, 10, time.Minute)
		if len(es) != 3 {
			t.Fatalf("B fetched %d of %s, want 3", len(es), c)
		}
		if err := b.Ack(ctx, c, idsOf(es)); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := a.Stats(ctx); err != nil || len(st.Queued) != 0 || st.IDs != 60 {
		t.Fatalf("A Stats after acks = %+v, %v; want nothing queued, 60 ids", st, err)
	}
}

// TestScriptsReloaded: a server that lost its scripts (SCRIPT FLUSH, as
// after a restart or a failover) gets them again in full.
func TestScriptsReloaded(t *testing.T) {
	ctx := context.Background()
	addr, _, _ := redistest.Start(t)
	s := open(t, addr, uniquePrefix(), store.Limits{})
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, items("c", "r1", "r2")); err != nil {
		t.Fatalf("Enqueue after SCRIPT FLUSH: %v", err)
	}
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	es := mustFetch(t, s, "c", 10, time.Minute)
	if tagsOf(es) != "r1,r2" {
		t.Fatalf("fetched %q", tagsOf(es))
	}
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, "c", idsOf(es)); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Queued["c"] != 0 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}

func items(client string, tags ...string) []store.Item {
	out := make([]store.Item, len(tags))
	for i, tag := range tags {
		out[i] = store.Item{Client: client, Kind: store.KindReport, Frame: storetest.Frame(tag)}
	}
	return out
}

func tagsOf(es []store.Entry) string {
	var b []string
	for _, e := range es {
		b = append(b, storetest.Tag(e.Frame))
	}
	return strings.Join(b, ",")
}

func idsOf(es []store.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func mustFetch(t testing.TB, s *Store, client string, max int, lease time.Duration) []store.Entry {
	t.Helper()
	es, err := s.Fetch(context.Background(), client, max, lease)
	if err != nil {
		t.Fatalf("Fetch(%s): %v", client, err)
	}
	return es
}

// TestTwoInstances is two mux instances on one Redis: ids and queues
// written through one are seen by the other, and a lease one holds keeps
// the other off the entry.
func TestTwoInstances(t *testing.T) {
	ctx := context.Background()
	addr, _, _ := redistest.Start(t)
	p := uniquePrefix()
	a, b := open(t, addr, p, store.Limits{}), open(t, addr, p, store.Limits{})
	if err := a.PutIDs(ctx, []store.IDRecord{{ID: "m1", Client: "shop", Expires: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := b.LookupID(ctx, "m1"); c != "shop" || !ok || err != nil {
		t.Fatalf("B LookupID(m1) = %q, %v, %v; want shop", c, ok, err)
	}
	if err := a.Enqueue(ctx, items("shop", "r1", "r2", "r3")); err != nil {
		t.Fatal(err)
	}
	got := mustFetch(t, b, "shop", 2, time.Minute)
	if tagsOf(got) != "r1,r2" {
		t.Fatalf("B fetched %q, want r1,r2", tagsOf(got))
	}
	if rest := mustFetch(t, a, "shop", 10, time.Minute); tagsOf(rest) != "r3" {
		t.Fatalf("A fetched %q, want r3 (B leases r1,r2)", tagsOf(rest))
	}
	// A's Release of entries B holds changes nothing.
	if err := a.Release(ctx, "shop", idsOf(got)); err != nil {
		t.Fatal(err)
	}
	if es := mustFetch(t, a, "shop", 10, time.Minute); len(es) != 0 {
		t.Fatalf("A fetched %q after releasing B's leases", tagsOf(es))
	}
	if err := b.Ack(ctx, "shop", idsOf(got)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		st, err := s.Stats(ctx)
		if err != nil || st.Queued["shop"] != 1 {
			t.Errorf("Stats = %+v, %v; want shop:1 on both instances", st, err)
		}
	}
}

// TestInstanceDies: an instance holding leases stops; another gets the
// entries, with the same ids, once the leases run out, and a late
// Release by the first does not take them away.
func TestInstanceDies(t *testing.T) {
	ctx := context.Background()
	addr, _, _ := redistest.Start(t)
	p := uniquePrefix()
	a, b := open(t, addr, p, store.Limits{}), open(t, addr, p, store.Limits{})
	if err := b.Enqueue(ctx, items("bank", "d1", "d2", "d3")); err != nil {
		t.Fatal(err)
	}
	const lease = 300 * time.Millisecond
	start := time.Now()
	held := mustFetch(t, a, "bank", 10, lease)
	if tagsOf(held) != "d1,d2,d3" {
		t.Fatalf("A fetched %q", tagsOf(held))
	}
	// A "dies": it is never used again for deliveries.
	if es := mustFetch(t, b, "bank", 10, time.Minute); len(es) != 0 {
		t.Fatalf("B fetched %q while A's leases run", tagsOf(es))
	}
	var again []store.Entry
	eventually.That(t, 5*time.Second, "B never got the entries of the dead instance", func() bool {
		again = mustFetch(t, b, "bank", 10, time.Minute)
		return len(again) > 0
	})
	if d := time.Since(start); d < lease {
		t.Errorf("entries came back after %v, before the lease of %v ran out", d, lease)
	}
	if tagsOf(again) != "d1,d2,d3" || strings.Join(idsOf(again), ",") != strings.Join(idsOf(held), ",") {
		t.Fatalf("B got %q %q; want d1,d2,d3 with ids %q", tagsOf(again), idsOf(again), idsOf(held))
	}
	if err := a.Release(ctx, "bank", idsOf(held)); err != nil { // A comes back to life, late
		t.Fatal(err)
	}
	if es := mustFetch(t, a, "bank", 10, time.Minute); len(es) != 0 {
		t.Fatalf("A's late Release took B's leases: A fetched %q", tagsOf(es))
	}
}

// TestRedisRestart: while Redis is down every call fails within its
// timeout; once it is back calls work again, and nothing Redis
// acknowledged is lost (appendonly yes, appendfsync always).
func TestRedisRestart(t *testing.T) {
	ctx := context.Background()
	addr, stop, restart := redistest.Start(t, redistest.AppendOnly())
	s := open(t, addr, uniquePrefix(), store.Limits{}, WithTimeout(time.Second))
	exp := time.Now().Add(time.Hour)
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "m1", Client: "shop", Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, items("shop", "r1", "r2", "r3", "r4")); err != nil {
		t.Fatal(err)
	}
	const lease = 200 * time.Millisecond
	first := mustFetch(t, s, "shop", 2, lease)
	if err := s.Ack(ctx, "shop", idsOf(first[:1])); err != nil {
		t.Fatal(err)
	}

	stop()
	calls := map[string]func() error{
		"PutIDs":   func() error { return s.PutIDs(ctx, []store.IDRecord{{ID: "m2", Client: "shop", Expires: exp}}) },
		"LookupID": func() error { _, _, err := s.LookupID(ctx, "m1"); return err },
		"Enqueue":  func() error { return s.Enqueue(ctx, items("shop", "lost")) },
		"Fetch":    func() error { _, err := s.Fetch(ctx, "shop", 10, lease); return err },
		"Ack":      func() error { return s.Ack(ctx, "shop", idsOf(first[1:])) },
		"Release":  func() error { return s.Release(ctx, "shop", idsOf(first[1:])) },
		"Stats":    func() error { _, err := s.Stats(ctx); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if err == nil {
			t.Errorf("%s succeeded while Redis was down", name)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %v while Redis was down; want about the 1s timeout", name, d)
		}
	}

	restart()
	var got []store.Entry
	eventually.That(t, 10*time.Second, "no entries after the restart", func() bool {
		es, err := s.Fetch(ctx, "shop", 10, time.Minute)
		got = append(got, es...)
		return err == nil && len(got) == 3
	})
	if tagsOf(got) != "r2,r3,r4" {
		t.Errorf("after the restart fetched %q, want r2,r3,r4 (r1 acked, r2's lease ran out)", tagsOf(got))
	}
	if c, ok, err := s.LookupID(ctx, "m1"); c != "shop" || !ok || err != nil {
		t.Errorf("LookupID(m1) after the restart = %q, %v, %v", c, ok, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	m := &Store{URL: "redis://:hunter2@127.0.0.1:" + strconv.Itoa(port) + "/0", Timeout: module.Duration(500 * time.Millisecond)}
	ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(t))
	defer cancel()
	start := time.Now()
	err = m.Provision(ctx)
	if err == nil {
		t.Fatal("Provision succeeded with nothing listening")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Provision took %v", d)
	}
	msg := err.Error()
	if strings.Contains(msg, "hunter2") || !strings.Contains(msg, "store.redis: connect to redis://:xxxxx@127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("Provision = %q; want the url with its password redacted", msg)
	}
	if err := m.Cleanup(); err != nil {
		t.Errorf("Cleanup after a failed Provision: %v", err)
	}
	if strings.Contains(m.String(), "hunter2") {
		t.Errorf("String() = %q shows the password", m.String())
	}

	// The same with addrs, as a cluster: the error names them, not the
	// password.
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := &Store{Addrs: []string{addr, addr}, Password: "hunter2", Timeout: module.Duration(500 * time.Millisecond)}
	start = time.Now()
	err = c.Provision(ctx)
	if err == nil {
		t.Fatal("Provision on cluster addrs succeeded with nothing listening")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Provision took %v", d)
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") || !strings.Contains(msg, "connect to cluster addrs="+addr) {
		t.Errorf("Provision = %q; want the addrs and no password", msg)
	}
	if err := c.Cleanup(); err != nil {
		t.Errorf("Cleanup after a failed Provision: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *Store
		want string
	}{
		{"negative cap", &Store{Limits: store.Limits{QueueCap: -1}}, "queue_cap"},
		{"braces in prefix", &Store{Prefix: "a{b}"}, "prefix"},
		{"scheme", &Store{URL: "http://h:1/0"}, "invalid URL scheme"},
		{"unparsable", &Store{URL: "redis://:hunter2@h:port/0"}, "store.redis: url"},
		{"url and addrs", &Store{URL: "redis://h:1/0", Addrs: []string{"h:1"}}, "not both"},
		{"password with url", &Store{URL: "redis://h:1/0", Password: "hunter2"}, "go with addrs"},
		{"addr without port", &Store{Addrs: []string{"h"}}, "addrs"},
		{"db on a cluster", &Store{Addrs: []string{"h:1", "h:2"}, DB: 2}, "only db 0"},
		{"sentinel and cluster", &Store{Addrs: []string{"h:1"}, SentinelMaster: "m", Cluster: true}, "exclude"},
		{"tls_ca without tls", &Store{Addrs: []string{"h:1"}, TLSCA: "ca.pem"}, "tls_ca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Validate() = %v; want %q and no password", err, tc.want)
			}
		})
	}
	for _, ok := range []*Store{{}, {Addrs: []string{"h:1"}, DB: 3, Password: "p"}, {Addrs: []string{"h:1"}, SentinelMaster: "m", DB: 1}, {Addrs: []string{"h:1", "h:2"}}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%v): %v", ok, err)
		}
	}
}

// TestMode: how addrs are used, and that String and the log line never
// show a password.
func TestMode(t *testing.T) {
	for _, tc := range []struct {
		s    *Store
		mode string
	}{
		{&Store{Addrs: []string{"h:1"}, Password: "hunter2"}, "single"},
		{&Store{Addrs: []string{"h:1"}, Cluster: true, Password: "hunter2"}, "cluster"},
		{&Store{Addrs: []string{"h:1", "h:2"}, Password: "hunter2"}, "cluster"},
		{&Store{Addrs: []string{"h:1", "h:2"}, SentinelMaster: "m", Password: "hunter2", SentinelPass: "hunter2"}, "sentinel"},
	} {
		if got := tc.s.mode(); got != tc.mode {
			t.Errorf("%v: mode %s, want %s", tc.s, got, tc.mode)
		}
		enc := zapcore.NewMapObjectEncoder()
		_ = tc.s.MarshalLogObject(enc)
		if str := tc.s.String() + fmt.Sprint(enc.Fields); strings.Contains(str, "hunter2") || !strings.Contains(str, tc.mode) {
			t.Errorf("String and log fields %q: want mode %s and no password", str, tc.mode)
		}
	}
}

func TestModule(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	src := `
[store]
module = "redis"
dlr_ttl = "72h"
url = "redis://` + addr + `/1"
prefix = "mod"
timeout = "1s"
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
	mi, ok := module.Get("store.redis")
	if !ok {
		t.Fatal("store.redis not registered")
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
	if m.limits != want || m.timeout != time.Second || m.keys.queue("c") != "mod:q:{c}" {
		t.Errorf("limits = %+v, timeout %v, queue key %q", m.limits, m.timeout, m.keys.queue("c"))
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
}

// TestSweep checks the counters, and that each sweep logs its drops once.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	addr, _, _ := redistest.Start(t)
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := Open(ctx, "redis://"+addr, store.Limits{QueueCap: 10, Sweep: time.Hour}, zap.New(core), WithPrefix(uniquePrefix()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var tags []string
	for i := range 25 {
		tags = append(tags, fmt.Sprint(i))
	}
	if err := s.Enqueue(ctx, items("c", tags...)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(ctx, "c", 5, time.Hour); err != nil { // leases on entries the sweep removes
		t.Fatal(err)
	}
	s.sweepOnce(ctx)
	s.sweepOnce(ctx) // nothing left to do: no second log line
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped != 15 || st.Queued["c"] != 10 {
		t.Errorf("Stats = %+v; want 15 dropped, c:10", st)
	}
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 || warns[0].ContextMap()["beyond_queue_cap"] != int64(15) {
		t.Errorf("warn logs = %+v; want one line with beyond_queue_cap 15", warns)
	}
	// The leased entries were trimmed: once their leases end they are
	// gone, and the 10 kept are fetched in order.
	if err := s.Release(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	if es := mustFetch(t, s, "c", 100, time.Hour); tagsOf(es) != strings.Join(tags[15:], ",") {
		t.Errorf("after the sweep fetched %q", tagsOf(es))
	}
}

// A report enqueued twice (the provider's resend after an answer Redis
// gave but the mux did not get) is queued once; MOs are not deduplicated.
func TestReportEnqueuedOnce(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	s, err := Open(context.Background(), "redis://"+addr+"/0", store.Limits{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	receipt := append(make([]byte, 16), "id:1 stat:DELIVRD"...)
	resent := append([]byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9}, "id:1 stat:DELIVRD"...) // other seq
	mo := append(make([]byte, 16), "hello"...)
	for _, it := range []store.Item{
		{Client: "c", Kind: store.KindReport, Frame: receipt},
		{Client: "c", Kind: store.KindReport, Frame: resent},
		{Client: "c", Kind: store.KindMO, Frame: mo},
		{Client: "c", Kind: store.KindMO, Frame: mo},
	} {
		if err := s.Enqueue(ctx, []store.Item{it}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.Fetch(ctx, "c", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("%d entries queued, want 3 (one receipt, two MOs)", len(es))
	}
}

// TestDecodeAddrs: every key that goes with addrs is the module's own.
func TestDecodeAddrs(t *testing.T) {
	src := `
addrs = ["s1:26379", "s2:26379"]
sentinel_master = "mymaster"
cluster = false
username = "mux"
password = "hunter2"
sentinel_password = "hunter3"
db = 2
tls = true
tls_ca = "ca.pem"
`
	var s Store
	md, err := toml.Decode(src, &s)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Errorf("undecoded keys %v", u)
	}
	want := Store{Addrs: []string{"s1:26379", "s2:26379"}, SentinelMaster: "mymaster", Username: "mux",
		Password: "hunter2", SentinelPass: "hunter3", DB: 2, TLS: true, TLSCA: "ca.pem"}
	if s.String() != want.String() || s.mode() != "sentinel" || s.SentinelPass != want.SentinelPass || s.DB != 2 || !s.TLS || s.TLSCA != "ca.pem" || s.Username != "mux" {
		t.Errorf("decoded %s", &s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if _, err := s.universal(); err == nil || !strings.Contains(err.Error(), "tls_ca") {
		t.Errorf("universal() with a missing tls_ca file = %v", err)
	}
}
