package external

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/plugins/sdk/host"
)

// TestPoolShares acquires one key twice and another once: the first two
// share a runner, started once, which stops only at the last release.
func TestPoolShares(t *testing.T) {
	t.Parallel()
	var starts, stops atomic.Int32
	newRunner := func() *runner {
		return &runner{log: zaptest.NewLogger(t), timeout: time.Second, startFn: func(context.Context) (*instance, error) {
			starts.Add(1)
			c, _ := plugin.TestPluginGRPCConn(t, false, host.PluginSet(ruleFunc(passRule)))
			raw, err := c.Dispense(host.PluginName)
			if err != nil {
				return nil, err
			}
			return &instance{rule: raw.(*host.Client), stop: sync.OnceFunc(func() { stops.Add(1); _ = c.Close() })}, nil
		}}
	}
	var p pool
	p.m = map[poolKey]*pooled{}
	k := poolKey{rule: "shop/0", command: "a"}
	r1, rel1, err := p.acquire(k, newRunner())
	if err != nil {
		t.Fatal(err)
	}
	r2, rel2, err := p.acquire(k, newRunner())
	if err != nil {
		t.Fatal(err)
	}
	if r1 != r2 || starts.Load() != 1 {
		t.Fatalf("same key: runners %p %p, %d starts", r1, r2, starts.Load())
	}
	rel1()
	rel1() // twice is once
	if stops.Load() != 0 || r1.cur.Load() == nil {
		t.Fatal("stopped while another module holds it")
	}
	rel2()
	if stops.Load() != 1 || len(p.m) != 0 {
		t.Fatalf("after the last release: %d stops, %d held", stops.Load(), len(p.m))
	}
}
