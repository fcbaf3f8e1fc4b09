//go:build !race

package sender_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"
)

// TestNoAllocs guards the hot path: an allowed sender, a forced sender
// already in place and a refusal cost no allocation.
func TestNoAllocs(t *testing.T) {
	for _, tc := range []struct{ rule, src string }{
		{`allow = ["Shop", "Bank"]`, "Shop"},
		{`allow = ["Shop", "Bank"]`, "Evil"},
		{`force = "Shop"`, "Shop"},
		{"allow = [\"Shop\"]\nforce = \"Shop\"", "Shop"},
	} {
		r := ruletest.MustLoad(t, "module = \"sender\"\n"+tc.rule)
		sm := ruletest.Typical()
		sm.SourceAddr = []byte(tc.src)
		m, _ := ruletest.Received(t, sm)
		if n := testing.AllocsPerRun(100, func() { _ = r.Submit(m) }); n != 0 || m.Changed() {
			t.Fatalf("%q with %q: %v allocs per run, changed %v; want 0, false", tc.rule, tc.src, n, m.Changed())
		}
	}
}
