package storetest

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/store"
)

// Load makes a store the way the mux does: it parses a config whose
// [store] table holds keys (TOML lines, module = "..." among them) with
// the loader that run, validate and reload use (mux.Parse), and loads
// the decoded module through a mux.Context (LoadModule: Provision, then
// Validate). A registration or decoding mistake thus fails the store's
// own tests. t.Cleanup cleans the module up.
func Load(t testing.TB, keys string) store.Store {
	t.Helper()
	cfg, err := mux.Parse([]byte(upstream + "[store]\n" + keys))
	if err != nil {
		t.Fatalf("config [store]:\n%s\n%v", keys, err)
	}
	ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)))
	t.Cleanup(func() {
		if err := ctx.Cleanup(); err != nil {
			t.Errorf("store cleanup: %v", err)
		}
		cancel()
	})
	if err := ctx.LoadModule("store."+cfg.Store.Name, cfg.Store.Module); err != nil {
		t.Fatalf("load store.%s: %v", cfg.Store.Name, err)
	}
	s, ok := cfg.Store.Module.(store.Store)
	if !ok {
		t.Fatalf("store.%s is a %T, not a store.Store", cfg.Store.Name, cfg.Store.Module)
	}
	return s
}

// upstream is the least a config needs besides [store]; nothing dials it.
const upstream = `[upstream]
system_id = "storetest"
password = "pw"
[[upstream.host]]
address = "127.0.0.1:1"
`

// LimitKeys are limits as [store] keys, those that are set: retention
// and queue_cap, and sweep for a store that has that key.
func LimitKeys(l store.Limits, sweep bool) string {
	var keys string
	if l.Retention != 0 {
		keys += fmt.Sprintf("retention = %q\n", l.Retention)
	}
	if l.QueueCap != 0 {
		keys += fmt.Sprintf("queue_cap = %d\n", l.QueueCap)
	}
	if sweep && l.Sweep != 0 {
		keys += fmt.Sprintf("sweep = %q\n", l.Sweep)
	}
	return keys
}
