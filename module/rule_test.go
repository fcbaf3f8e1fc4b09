package module_test

import (
	"bytes"
	"testing"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// TestMessageEditsCompose chains edits the way several rules do on one
// submit_sm: every earlier value must survive every later edit, and the
// encoded body must decode to exactly the edited fields.
func TestMessageEditsCompose(t *testing.T) {
	in := pdu.SM{
		SourceAddr:   []byte("4512345678"),
		DestAddr:     []byte("4587654321"),
		ShortMessage: []byte("hello"),
		TLVs:         pdu.TLVs(pdu.AppendTLV(nil, 0x0204, []byte{0, 7})), // user_message_reference
	}
	body := in.AppendBody(nil)
	var m module.Message
	for round := range 3 { // the session reuses one Message
		m.Reset("c1")
		if err := m.SM.Decode(body); err != nil {
			t.Fatal(err)
		}
		m.SetSourceAddr("Brand")                          // sender
		m.SetTLV(pdu.TagMessageClass, []byte("standard")) // message_class
		m.SetPriority(2)                                  // priority
		m.SetDestTON(1)                                   // dest_ton
		m.SetTLV(0x1401, []byte("plugin"))                // a plugin's TLV
		m.SetTLV(pdu.TagMessageClass, []byte("premium"))  // a second edit of one tag
		m.SetSourceAddr("Brand2")                         // and of one field

		var got pdu.SM
		if err := got.Decode(m.SM.AppendBody(nil)); err != nil {
			t.Fatalf("round %d: forwarded body does not decode: %v", round, err)
		}
		if string(got.SourceAddr) != "Brand2" || got.PriorityFlag != 2 || got.DestTON != 1 {
			t.Fatalf("round %d: fields %q %d %d", round, got.SourceAddr, got.PriorityFlag, got.DestTON)
		}
		want := pdu.AppendTLV(nil, 0x0204, []byte{0, 7})
		want = pdu.AppendTLV(want, pdu.TagMessageClass, []byte("premium"))
		want = pdu.AppendTLV(want, 0x1401, []byte("plugin"))
		if !bytes.Equal(got.TLVs, want) {
			t.Fatalf("round %d: TLVs % x, want % x", round, []byte(got.TLVs), want)
		}
		if !bytes.Equal(got.DestAddr, in.DestAddr) || !bytes.Equal(got.ShortMessage, in.ShortMessage) {
			t.Fatalf("round %d: untouched fields changed", round)
		}
	}
}

// TestSetTLVDropsDuplicates sets a tag the client sent twice, its first
// value already the one set: the second must go as it does for any other
// value, or the provider gets the client's class beside the rule's.
func TestSetTLVDropsDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		changed bool
		want    []byte
	}{
		{"once_same", pdu.AppendTLV(nil, 0x2900, []byte("gold")), false, pdu.AppendTLV(nil, 0x2900, []byte("gold"))},
		{"twice_first_same",
			pdu.AppendTLV(pdu.AppendTLV(pdu.AppendTLV(nil, 0x2900, []byte("gold")), 0x0204, []byte{0, 1}), 0x2900, []byte("free")),
			true, pdu.AppendTLV(pdu.AppendTLV(nil, 0x2900, []byte("gold")), 0x0204, []byte{0, 1})},
		{"twice_both_same",
			pdu.AppendTLV(pdu.AppendTLV(nil, 0x2900, []byte("gold")), 0x2900, []byte("gold")),
			true, pdu.AppendTLV(nil, 0x2900, []byte("gold"))},
		{"twice_first_other",
			pdu.AppendTLV(pdu.AppendTLV(nil, 0x2900, []byte("free")), 0x2900, []byte("gold")),
			true, pdu.AppendTLV(nil, 0x2900, []byte("gold"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m module.Message
			m.Reset("c1")
			m.SM.TLVs = tc.in
			m.SetTLV(0x2900, []byte("gold"))
			if m.Changed() != tc.changed || !bytes.Equal(m.SM.TLVs, tc.want) {
				t.Fatalf("changed %v, TLVs % x; want %v, % x", m.Changed(), []byte(m.SM.TLVs), tc.changed, tc.want)
			}
		})
	}
}

// TestMessageNewSetters chains the setters of short_message, data_coding,
// esm_class, registered_delivery and TLV deletion with the others on one
// scratch buffer: every earlier value must survive every later edit.
func TestMessageNewSetters(t *testing.T) {
	in := pdu.SM{
		SourceAddr:   []byte("4512345678"),
		DestAddr:     []byte("4587654321"),
		ShortMessage: []byte("hello"),
		DataCoding:   0,
		TLVs: pdu.TLVs(pdu.AppendTLV(pdu.AppendTLV(pdu.AppendTLV(nil, pdu.TagUserMessageReference, []byte{0, 7}),
			pdu.TagMessageClass, []byte("a")), pdu.TagMessageClass, []byte("b"))),
	}
	body := in.AppendBody(nil)
	var m module.Message
	for round := range 3 {
		m.Reset("c1")
		if err := m.SM.Decode(body); err != nil {
			t.Fatal(err)
		}
		m.DeleteTLV(0x1234) // absent: no change
		m.SetDataCoding(0)  // as it is: no change
		m.SetESMClass(0)
		m.SetRegisteredDelivery(0)
		m.SetShortMessage([]byte("hello"))
		if m.Changed() {
			t.Fatalf("round %d: no-op setters changed the message", round)
		}
		m.SetSourceAddr("Brand")
		m.SetShortMessage([]byte("h\x00i"))
		m.SetTLV(0x1401, []byte("plugin"))
		m.DeleteTLV(pdu.TagMessageClass)
		m.SetDataCoding(8)
		m.SetESMClass(0x40)
		m.SetRegisteredDelivery(1)
		m.SetTLV(0x1402, []byte("later"))
		if !m.Changed() {
			t.Fatalf("round %d: not changed", round)
		}
		var got pdu.SM
		if err := got.Decode(m.SM.AppendBody(nil)); err != nil {
			t.Fatalf("round %d: forwarded body does not decode: %v", round, err)
		}
		if string(got.SourceAddr) != "Brand" || string(got.ShortMessage) != "h\x00i" || got.DataCoding != 8 ||
			got.ESMClass != 0x40 || got.RegisteredDelivery != 1 {
			t.Fatalf("round %d: fields %+v", round, got)
		}
		want := pdu.AppendTLV(nil, pdu.TagUserMessageReference, []byte{0, 7})
		want = pdu.AppendTLV(want, 0x1401, []byte("plugin"))
		want = pdu.AppendTLV(want, 0x1402, []byte("later"))
		if !bytes.Equal(got.TLVs, want) {
			t.Fatalf("round %d: TLVs % x, want % x", round, []byte(got.TLVs), want)
		}
	}
}
