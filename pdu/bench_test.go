package pdu

import "testing"

func BenchmarkDecodeHeader(b *testing.B) {
	frame := unhex(b, goldens[5].hex)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeHeader(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPatchSeq(b *testing.B) {
	frame := unhex(b, goldens[5].hex)
	b.ReportAllocs()
	var seq uint32
	for b.Loop() {
		seq++
		PatchSeq(frame, seq)
	}
}

func BenchmarkDecodeSubmitSM(b *testing.B) {
	frame := unhex(b, goldens[5].hex)
	var m SM
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := m.Decode(frame[HeaderLen:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSubmitSM(b *testing.B) {
	var m SM
	if err := m.Decode(unhex(b, goldens[5].hex)[HeaderLen:]); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], CmdSubmitSM, 0, 1, &m)
	}
}

func BenchmarkPeekReceiptedMessageID(b *testing.B) {
	frame := unhex(b, goldens[7].hex)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := PeekReceiptedMessageID(frame); !ok {
			b.Fatal("no id")
		}
	}
}
