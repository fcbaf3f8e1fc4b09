package pdu

import (
	"bytes"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary octets to the frame reader and decoder.
// Nothing may panic, and decoding what was encoded from a decoded frame
// gives the same encoding again.
func FuzzDecodeFrame(f *testing.F) {
	for _, g := range goldens {
		f.Add(unhex(f, g.hex))
	}
	f.Add([]byte{0, 0, 0, 0x10, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		frame, err := ReadFrame(bytes.NewReader(in), nil, 4096)
		if err != nil {
			return
		}
		PeekConcat(frame)
		PeekReceiptedMessageID(frame)
		PeekText(frame)
		h, body, err := DecodeFrame(frame)
		if err != nil || body == nil {
			return
		}
		enc := Append(nil, h.ID, h.Status, h.Seq, body)
		h2, body2, err := DecodeFrame(enc)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", enc, err)
		}
		if h2.ID != h.ID || h2.Seq != h.Seq || h2.Status != h.Status {
			t.Fatalf("header changed: %+v -> %+v", h, h2)
		}
		enc2 := Append(nil, h2.ID, h2.Status, h2.Seq, body2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encode not stable:\n%x\n%x", enc, enc2)
		}
	})
}
