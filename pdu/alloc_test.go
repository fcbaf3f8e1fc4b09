//go:build !race

package pdu

import "testing"

// The forwarding path must not allocate: header decode, sequence patch,
// body decode into views, encode into a buffer with room, and peeks.
func TestForwardingPathAllocs(t *testing.T) {
	sub := unhex(t, goldens[5].hex)
	dlr := unhex(t, goldens[7].hex)
	var m SM
	buf := make([]byte, 0, 512)
	cases := map[string]func(){
		"DecodeHeader": func() { _, _ = DecodeHeader(sub) },
		"PatchSeq":     func() { PatchSeq(sub, 42) },
		"DecodeSM":     func() { _ = m.Decode(sub[HeaderLen:]) },
		"AppendSM":     func() { buf = Append(buf[:0], CmdSubmitSM, 0, 1, &m) },
		"PeekReceipt":  func() { PeekReceiptedMessageID(dlr) },
		"PeekConcat":   func() { PeekConcat(sub) },
		"PeekSubmit":   func() { PeekSubmit(sub) },
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
}
