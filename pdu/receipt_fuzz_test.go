package pdu

import (
	"bytes"
	"testing"
)

// FuzzParseReceipt checks that ParseReceipt never panics, that ReceiptID
// finds the same id, and that a parsed receipt survives AppendTo and a second
// parse with its ID and Stat unchanged. The seeds are the golden receipts;
// the corpus of past finds lives in testdata/fuzz/FuzzParseReceipt.
func FuzzParseReceipt(f *testing.F) {
	for _, tc := range receiptGolden {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("id: sub: submit date: done date: stat: err: text:"))
	f.Add([]byte("submit done date date: id:1"))
	f.Add([]byte("id:1\x00stat:DELIVRD\ttext:\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		r, err := ParseReceipt(b)
		id, ok := ReceiptID(b)
		if !bytes.Equal(b, orig) {
			t.Fatalf("input modified")
		}
		if (err == nil) != ok || (ok && string(id) != r.ID) {
			t.Fatalf("ReceiptID = %q, %v; ParseReceipt = %+v, %v", id, ok, r, err)
		}
		if stat, ok := ReceiptStat(b); err == nil && (ok != (r.Stat != "") || string(stat) != r.Stat) {
			t.Fatalf("ReceiptStat = %q, %v; ParseReceipt = %+v", stat, ok, r)
		}
		if err != nil {
			return
		}
		out := r.AppendTo(nil)
		back, err := ParseReceipt(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if back.ID != r.ID || back.Stat != r.Stat {
			t.Fatalf("round trip of %q via %q: got ID %q Stat %q, want ID %q Stat %q",
				b, out, back.ID, back.Stat, r.ID, r.Stat)
		}
	})
}
