package mux

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// TestFinalReceipt checks which receipts end a message id's dlr_ttl: by
// TLV message_state when present (it wins over the text), else by the
// text's stat.
func TestFinalReceipt(t *testing.T) {
	t.Parallel()
	deliver := func(text string, state int) []byte {
		sm := &pdu.SM{ESMClass: 0x04, ShortMessage: []byte(text)}
		if state >= 0 {
			sm.TLVs = pdu.AppendTLV(nil, pdu.TagMessageState, []byte{byte(state)})
		}
		return pdu.Append(nil, pdu.CmdDeliverSM, 0, 1, sm)
	}
	text := func(stat string) string { return "id:1a sub:001 dlvrd:001 stat:" + stat + " err:000 text:x" }
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"DELIVRD", deliver(text("DELIVRD"), -1), true},
		{"UNDELIV", deliver(text("UNDELIV"), -1), true},
		{"EXPIRED", deliver(text("EXPIRED"), -1), true},
		{"REJECTD", deliver(text("REJECTD"), -1), true},
		{"DELETED", deliver(text("DELETED"), -1), true},
		{"UNKNOWN", deliver(text("UNKNOWN"), -1), true},
		{"lower case", deliver(text("delivrd"), -1), true},
		{"ENROUTE", deliver(text("ENROUTE"), -1), false},
		{"ACCEPTD", deliver(text("ACCEPTD"), -1), false},
		{"BUFFERD", deliver(text("BUFFERD"), -1), false},
		{"no stat", deliver("id:1a sub:001", -1), false},
		{"TLV delivered", deliver("", pdu.StateDelivered), true},
		{"TLV enroute wins over text", deliver(text("DELIVRD"), pdu.StateEnroute), false},
		{"TLV rejected wins over text", deliver(text("ENROUTE"), pdu.StateRejected), true},
		{"TLV accepted", deliver("", pdu.StateAccepted), false},
		{"not a frame", []byte{0, 0, 0, 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := finalReceipt(tc.frame); got != tc.want {
				t.Fatalf("finalReceipt = %v; want %v", got, tc.want)
			}
		})
	}
}
