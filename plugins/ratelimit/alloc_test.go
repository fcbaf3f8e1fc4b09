//go:build !race

package ratelimit_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"
)

// TestNoAllocs guards the hot path: passing and rejecting both cost no
// allocation.
func TestNoAllocs(t *testing.T) {
	for _, rule := range []string{"rate = 1e9", "rate = 0.001\nburst = 1"} {
		r := ruletest.MustLoad(t, "module = \"rate_limit\"\n"+rule)
		m, _ := ruletest.Received(t, ruletest.Typical())
		if n := testing.AllocsPerRun(100, func() { _ = r.Submit(m) }); n != 0 {
			t.Fatalf("%q: %v allocs per run, want 0", rule, n)
		}
	}
}
