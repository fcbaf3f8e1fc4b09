package mux_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// A provider message_id that is not a valid C-Octet String (no NUL, or
// longer than 64 octets) reaches the client exactly as the provider sent
// it, is stored as those octets, and its receipt reaches the client. Before,
// it was passed on but never stored: every receipt for it was orphaned.
func TestMalformedProviderMessageID(t *testing.T) {
	long := strings.Repeat("7", 70)
	for _, tc := range []struct {
		name  string
		id    string
		noNUL bool
		body  string // the client's submit_sm_resp body
	}{
		{"no NUL", "NoNul0001", true, "NoNul0001"},
		{"70 octets", long, false, long + "\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "", simtest.DLRDelay(100*time.Millisecond), simtest.Config(func(c *sim.Config) {
				c.MessageID = func(uint64) string { return tc.id }
				c.MessageIDNoNUL = tc.noNUL
			}))
			c := h.dial("shop", "shop-pw", esme.Options{})
			f, err := c.Request(ctxT(t), pdu.CmdSubmitSM, sm("4599999999", true, "odd id"))
			if err != nil {
				t.Fatal(err)
			}
			if hd, _ := pdu.DecodeHeader(f); hd.Status != pdu.StatusOK || string(f[pdu.HeaderLen:]) != tc.body {
				t.Fatalf("submit_sm_resp status %v body %q, want 0 and %q", hd.Status, f[pdu.HeaderLen:], tc.body)
			}
			if got := collect(t, c, 1, 10*time.Second); got[0] != tc.id {
				t.Fatalf("receipt for %q, want %q", got[0], tc.id)
			}
			if m := h.mux.Metrics().Snapshot(); m.BadMessageIDs != 1 || m.MatchedLate != 0 {
				t.Errorf("bad message ids %d (want 1), matched late %d (want 0)", m.BadMessageIDs, m.MatchedLate)
			}
		})
	}
}
