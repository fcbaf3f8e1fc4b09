package mux_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	"github.com/smpp-mux/smpp-mux/store"
	_ "github.com/smpp-mux/smpp-mux/store/bolt"
)

// startMux starts a mux with src as its config, and shuts it down when
// the test ends.
func startMux(t *testing.T, src string) *mux.Mux {
	t.Helper()
	return startMuxLog(t, src, zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)))
}

// startMuxLog is startMux logging to log.
func startMuxLog(t *testing.T, src string, log *zap.Logger) *mux.Mux {
	t.Helper()
	cfg, err := mux.Parse([]byte(src))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	m, err := mux.New(cfg, log)
	if err != nil {
		t.Fatalf("mux.New: %v", err)
	}
	if err := m.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return m
}

// muxConfig is a config of the harness's shape on sim's hosts.
func muxConfig(s *simtest.Server, storeTOML string) string {
	return fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
mo_default = "shop"
response_timeout = "2s"
[store]
%s
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 2
reconnect_delay = "1s"
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
%s`, storeTOML, s.Addrs()[0], s.Addrs()[1], clientsTOML)
}

// Two instances on one Redis and one provider account, the client bound
// on B only: the provider spreads receipts over the binds of both, so
// about half are stored by A. Each is delivered, and B is woken by the
// store (counted) for those A stored, besides its one-second poll.
func TestWakeAcrossInstances(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	s := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "secret"))
	storeTOML := fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\nprefix = \"wake\"", addr)
	a := startMux(t, muxConfig(s, storeTOML))
	b := startMux(t, muxConfig(s, storeTOML))
	eventually.That(t, 5*time.Second, "a.UpstreamBound() == 4 && b.UpstreamBound() == 4", func() bool { return a.UpstreamBound() == 4 && b.UpstreamBound() == 4 })
	for _, m := range []*mux.Mux{a, b} {
		eventually.That(t, 5*time.Second, "m.Metrics().Snapshot().WakeAll >= 1", func() bool { return m.Metrics().Snapshot().WakeAll >= 1 })
	}
	c, err := esme.Dial(b.Addrs()[0].String(), "shop", "shop-pw", esme.Options{})
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	const n = 40
	ids := map[string]bool{}
	for i := range n {
		st, id, err := c.Submit(ctxT(t), sm("4599999999", true, fmt.Sprint("wake ", i)))
		if err != nil || st != pdu.StatusOK {
			t.Fatalf("submit %d: %v %v", i, st, err)
		}
		ids[id] = true
	}
	got := map[string]bool{}
	for _, id := range collect(t, c, n, 20*time.Second) {
		if !ids[id] {
			t.Fatalf("receipt for unknown id %s", id)
		}
		got[id] = true
	}
	if len(got) != n {
		t.Fatalf("%d distinct receipts of %d", len(got), n)
	}
	stored := a.Metrics().Snapshot().Reports
	if stored == 0 {
		t.Fatalf("instance A stored no receipt: the provider did not spread them")
	}
	eventually.That(t, 5*time.Second, "b.Metrics().Snapshot().Wakeups > 0", func() bool { return b.Metrics().Snapshot().Wakeups > 0 })
	wb, wa := b.Metrics().Snapshot().Wakeups, a.Metrics().Snapshot().Wakeups
	if wb > stored {
		t.Errorf("B woken %d times for %d receipts A stored; want at most one per batch", wb, stored)
	}
	t.Logf("A stored %d receipts; wake-ups: B %d, A %d (B's batches)", stored, wb, wa)
}

// An id whose receipt had a final state (DELIVRD) expires at final_ttl
// after it; one that has had ENROUTE only keeps dlr_ttl.
func TestFinalReceiptShortensID(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) string
	}{
		{"memory", func(*testing.T) string { return `module = "memory"` }},
		{"bolt", func(t *testing.T) string {
			return fmt.Sprintf("module = \"bolt\"\npath = %q", filepath.Join(t.TempDir(), "mux.db"))
		}},
		{"redis", func(t *testing.T) string {
			addr, _, _ := redistest.Start(t)
			return fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"", addr)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessConf(t, harnessConf{store: tc.store(t) + "\ndlr_ttl = \"1h\"\nfinal_ttl = \"300ms\""},
				simtest.Enroute(), simtest.DLRDelay(time.Hour))
			c := h.dial("shop", "shop-pw", esme.Options{})
			var ids [2]string
			for i := range ids {
				st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "final"))
				if err != nil || st != pdu.StatusOK {
					t.Fatalf("submit: %v %v", st, err)
				}
				ids[i] = id
			}
			deliveries(t, c, 2, "stat:ENROUTE") // both: ENROUTE only, not final
			if err := h.sim.InjectReceipt("acct", ids[0]); err != nil {
				t.Fatal(err)
			}
			deliveries(t, c, 1, "stat:DELIVRD")
			st := h.cfg.Store.Module.(store.Store)
			lookup := func(id string) bool {
				_, ok, err := st.LookupID(context.Background(), mux.IDKey(id))
				if err != nil {
					t.Fatalf("LookupID: %v", err)
				}
				return ok
			}
			eventually.That(t, 5*time.Second, "h.mux.Metrics().Snapshot().IDsShortened == 1", func() bool { return h.mux.Metrics().Snapshot().IDsShortened == 1 })
			eventually.That(t, 5*time.Second, "!lookup(ids[0])", func() bool { return !lookup(ids[0]) })
			if !lookup(ids[1]) {
				t.Fatalf("id %s with an ENROUTE receipt only is gone before dlr_ttl", ids[1])
			}
		})
	}
}

// deliveries reads n receipts whose text holds stat.
func deliveries(t *testing.T, c *esme.Client, n int, stat string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for n > 0 {
		select {
		case f := <-c.Deliveries:
			if text, _, _, _ := pdu.PeekText(f); strings.Contains(string(text), stat) {
				n--
			}
		case <-timeout:
			t.Fatalf("%d receipts with %s missing", n, stat)
		}
	}
}

// A final receipt that came before its message id was known waits in the
// orphan queue; once matched and stored for its client, its id too
// expires at final_ttl.
func TestLateMatchedFinalReceiptShortensID(t *testing.T) {
	h := newHarnessConf(t, harnessConf{store: "module = \"memory\"\ndlr_ttl = \"1h\"\nfinal_ttl = \"300ms\""})
	c := h.dial("shop", "shop-pw", esme.Options{})
	const id = "ffff0001"
	if err := h.sim.InjectReceipt("acct", id); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.mux.Queued(mux.OrphanQueue) == 1", func() bool { return h.mux.Queued(mux.OrphanQueue) == 1 })
	st := h.cfg.Store.Module.(store.Store)
	ctx := context.Background()
	if err := st.PutIDs(ctx, []store.IDRecord{{ID: mux.IDKey(id), Client: "shop", Expires: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	deliveries(t, c, 1, "stat:DELIVRD")
	eventually.That(t, 5*time.Second, "h.mux.Metrics().Snapshot().IDsShortened == 1", func() bool { return h.mux.Metrics().Snapshot().IDsShortened == 1 })
	eventually.That(t, 5*time.Second, "the id gone from the store", func() bool {
		_, ok, err := st.LookupID(ctx, mux.IDKey(id))
		return !ok && err == nil
	})
}
