//go:build !race

package priority_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"
)

// TestNoAllocs guards the hot path: the rule never allocates, changed or not.
func TestNoAllocs(t *testing.T) {
	for _, rule := range []string{"max = 1", "set = 0", "max = 0"} {
		r := ruletest.MustLoad(t, "module = \"priority\"\n"+rule)
		m, _ := ruletest.Received(t, ruletest.Typical())
		orig := m.SM
		if n := testing.AllocsPerRun(100, func() {
			m.SM = orig
			_ = r.Submit(m)
		}); n != 0 {
			t.Fatalf("%q: %v allocs per run, want 0", rule, n)
		}
	}
}
