//go:build !race

package encodingcheck_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// TestNoAllocs guards the hot path: passing costs no allocation for any
// supported data_coding, and neither does refusing an unsupported one.
func TestNoAllocs(t *testing.T) {
	r := ruletest.MustLoad(t, "module = \"encoding_check\"")
	ucs2 := []byte{0x00, 'H', 0x00, 'i'}
	for _, tc := range []struct {
		dc   byte
		esm  byte
		text []byte
	}{
		{0, 0, []byte("Hello")}, {1, 0, []byte("Hello")}, {2, 0, []byte{0xFF}}, {3, 0, []byte{0xE9}},
		{4, 0, []byte{0xFF}}, {6, 0, []byte{0xB0}}, {8, 0, ucs2}, {24, 0, ucs2}, {240, 0, []byte("Hi")},
		{8, pdu.ESMClassUDHI, cat(udh, ucs2)}, {5, 0, []byte("refused")},
	} {
		sm := ruletest.Typical()
		sm.DataCoding, sm.ESMClass, sm.ShortMessage = tc.dc, tc.esm, tc.text
		m, _ := ruletest.Received(t, sm)
		if n := testing.AllocsPerRun(100, func() { _ = r.Submit(m) }); n != 0 {
			t.Fatalf("data_coding %d: %v allocs per run, want 0", tc.dc, n)
		}
	}
}
