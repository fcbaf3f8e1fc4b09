package mux_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// slowRule takes a while per message, like an external plugin, and
// counts the messages it saw after its Cleanup began: a rule cleaned up
// under a message answers it ESME_RSYSERR in real life.
type slowRule struct {
	cleaned atomic.Bool
}

// afterCleanup counts calls of any slowRule made after its Cleanup.
var afterCleanup atomic.Int64

func init() { module.Register(new(slowRule)) }

func (*slowRule) MuxModule() module.Info {
	return module.Info{ID: "rule.slow_test", New: func() module.Module { return new(slowRule) }}
}

func (r *slowRule) Submit(*module.Message) error {
	time.Sleep(20 * time.Millisecond)
	if r.cleaned.Load() {
		afterCleanup.Add(1)
		return pdu.StatusSysErr.Err()
	}
	return nil
}

func (r *slowRule) Cleanup() error {
	r.cleaned.Store(true)
	return nil
}

// A reload while submits are inside the old config's rules lets them
// finish there: every submit is answered ESME_ROK, and no rule runs after
// its Cleanup.
func TestReloadWaitsForRulesInUse(t *testing.T) {
	const rule = `
[[client]]
system_id = "slow"
password = "pw"
  [[client.rule]]
  module = "slow_test"
`
	h := newHarness(t, rule)
	var wg sync.WaitGroup
	var bad atomic.Int64
	stop := make(chan struct{})
	for i := range 4 {
		c := h.dial("slow", "pw", esme.Options{})
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				st, _, err := c.Submit(ctxT(t), sm("4599999999", false, fmt.Sprint(i, n)))
				if err != nil || st != pdu.StatusOK {
					bad.Add(1)
					t.Errorf("submit: %v %v", st, err)
				}
			}
		})
	}
	for range 10 {
		if err := h.reload(clientsTOML + rule); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // let submits enter the new rules
	}
	close(stop)
	wg.Wait()
	if n := afterCleanup.Load(); n != 0 || bad.Load() != 0 {
		t.Fatalf("%d rule calls after Cleanup, %d submits not answered ESME_ROK", n, bad.Load())
	}
}
