//go:build !race

package msgclass_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// TestNoAllocsWhenUnchanged guards the pass-through promise: a submit_sm
// that already carries the class costs no allocation.
func TestNoAllocsWhenUnchanged(t *testing.T) {
	for _, rule := range []string{"class = \"premium\"", "class = \"premium\"\nkeep_client = true"} {
		r := ruletest.MustLoad(t, "module = \"message_class\"\n"+rule)
		sm := ruletest.Typical()
		sm.TLVs = pdu.AppendTLV(sm.TLVs, pdu.TagMessageClass, []byte("premium"))
		m, _ := ruletest.Received(t, sm)
		orig := m.SM
		if n := testing.AllocsPerRun(100, func() {
			m.SM = orig
			_ = r.Submit(m)
		}); n != 0 || m.Changed() {
			t.Fatalf("%q: %v allocs per run, changed %v; want 0, false", rule, n, m.Changed())
		}
	}
}
