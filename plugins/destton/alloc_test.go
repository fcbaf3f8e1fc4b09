//go:build !race

package destton_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"
)

// TestNoAllocs guards the hot path: passing, rewriting and refusing cost no
// allocation.
func TestNoAllocs(t *testing.T) {
	r := ruletest.MustLoad(t, "module = \"dest_ton\"")
	for _, ton := range []byte{0, 1, 2} {
		sm := ruletest.Typical()
		sm.DestTON = ton
		m, _ := ruletest.Received(t, sm)
		orig := m.SM
		if n := testing.AllocsPerRun(100, func() {
			m.SM = orig
			_ = r.Submit(m)
		}); n != 0 {
			t.Fatalf("ton %d: %v allocs per run, want 0", ton, n)
		}
	}
}
