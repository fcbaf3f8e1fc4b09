package mux

import (
	"bytes"
	"errors"
	"testing"

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
	var m Message
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
			var m Message
			m.Reset("c1")
			m.SM.TLVs = tc.in
			m.SetTLV(0x2900, []byte("gold"))
			if m.Changed() != tc.changed || !bytes.Equal(m.SM.TLVs, tc.want) {
				t.Fatalf("changed %v, TLVs % x; want %v, % x", m.Changed(), []byte(m.SM.TLVs), tc.changed, tc.want)
			}
		})
	}
}

// failingRule fails with an error that is not a *pdu.StatusError.
type failingRule struct{}

func (failingRule) MuxModule() ModuleInfo {
	return ModuleInfo{ID: "rule.failing", New: func() Module { return failingRule{} }}
}

func (failingRule) Submit(*Message) error { return errors.New("backend down") }

// TestRejectStatus: the client gets a rejection's status, and ESME_RSYSERR
// when a rule fails otherwise, as Rule documents.
func TestRejectStatus(t *testing.T) {
	sm := pdu.SM{DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")}
	frame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &sm)
	for _, tc := range []struct {
		name string
		rule Rule
		want pdu.Status
	}{
		{"plain error", failingRule{}, pdu.StatusSysErr},
		{"status error", rejectRule{}, pdu.StatusInvDstTON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			_, err := ApplyRules([]Rule{tc.rule}, &m, "c1", frame, nil)
			if got := rejectStatus(err); got != tc.want {
				t.Fatalf("status %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
	var m Message
	_, err := ApplyRules(nil, &m, "c1", frame[:len(frame)-1], nil)
	if got := rejectStatus(err); got != pdu.StatusInvMsgLen {
		t.Fatalf("cut body: status %v, want ESME_RINVMSGLEN (%v)", got, err)
	}
}

// rejectRule rejects with ESME_RINVDSTTON.
type rejectRule struct{}

func (rejectRule) MuxModule() ModuleInfo {
	return ModuleInfo{ID: "rule.reject", New: func() Module { return rejectRule{} }}
}

func (rejectRule) Submit(*Message) error {
	return &pdu.StatusError{Status: pdu.StatusInvDstTON, Reason: "test"}
}

// bigTLVRule sets two TLVs of 65,535 octets, as a plugin may.
type bigTLVRule struct{}

func (bigTLVRule) MuxModule() ModuleInfo {
	return ModuleInfo{ID: "rule.big_tlv", New: func() Module { return bigTLVRule{} }}
}

func (bigTLVRule) Submit(m *Message) error {
	big := bytes.Repeat([]byte{'x'}, 0xFFFF)
	m.SetTLV(0x1401, big)
	m.SetTLV(0x1402, big)
	return nil
}

// Edits that make the submit_sm longer than the largest PDU refuse that
// message with ESME_RINVMSGLEN; they are never forwarded.
func TestRulesTooLong(t *testing.T) {
	sm := pdu.SM{DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")}
	frame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &sm)
	var m Message
	out, err := ApplyRules([]Rule{bigTLVRule{}}, &m, "c1", frame, nil)
	if got := rejectStatus(err); got != pdu.StatusInvMsgLen || out != nil {
		t.Fatalf("status %v, %d octets out, want ESME_RINVMSGLEN and nothing (%v)", got, len(out), err)
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
	var m Message
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

// optDeliver is a DeliverRule that says whether it wants deliver_sm.
type optDeliver struct{ want bool }

func (optDeliver) MuxModule() ModuleInfo  { return ModuleInfo{ID: "rule.opt_deliver_test"} }
func (optDeliver) Submit(*Message) error  { return nil }
func (optDeliver) Deliver(*Message) error { return nil }
func (o optDeliver) WantsDeliver() bool   { return o.want }

// TestDeliverOptional checks that a DeliverOptional rule that says no is
// left out of the deliver chain, and stays in the submit chain.
func TestDeliverOptional(t *testing.T) {
	cc := newClientConf(ClientConfig{Rules: []Module{optDeliver{want: false}, optDeliver{want: true}}}, nil)
	if len(cc.rules) != 2 || len(cc.delivers) != 1 || !cc.delivers[0].(optDeliver).want {
		t.Fatalf("rules %d, delivers %v", len(cc.rules), cc.delivers)
	}
}
