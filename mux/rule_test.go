package mux

import (
	"bytes"
	"errors"
	"testing"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// failingRule fails with an error that is not a *pdu.StatusError.
type failingRule struct{}

func (failingRule) MuxModule() module.Info {
	return module.Info{ID: "rule.failing", New: func() module.Module { return failingRule{} }}
}

func (failingRule) Submit(*module.Message) error { return errors.New("backend down") }

// TestRejectStatus: the client gets a rejection's status, and ESME_RSYSERR
// when a rule fails otherwise, as Rule documents.
func TestRejectStatus(t *testing.T) {
	sm := pdu.SM{DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")}
	frame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &sm)
	for _, tc := range []struct {
		name string
		rule module.Rule
		want pdu.Status
	}{
		{"plain error", failingRule{}, pdu.StatusSysErr},
		{"status error", rejectRule{}, pdu.StatusInvDstTON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m module.Message
			_, err := ApplyRules([]module.Rule{tc.rule}, &m, "c1", frame, nil)
			if got := rejectStatus(err); got != tc.want {
				t.Fatalf("status %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
	var m module.Message
	_, err := ApplyRules(nil, &m, "c1", frame[:len(frame)-1], nil)
	if got := rejectStatus(err); got != pdu.StatusInvMsgLen {
		t.Fatalf("cut body: status %v, want ESME_RINVMSGLEN (%v)", got, err)
	}
}

// rejectRule rejects with ESME_RINVDSTTON.
type rejectRule struct{}

func (rejectRule) MuxModule() module.Info {
	return module.Info{ID: "rule.reject", New: func() module.Module { return rejectRule{} }}
}

func (rejectRule) Submit(*module.Message) error {
	return &pdu.StatusError{Status: pdu.StatusInvDstTON, Reason: "test"}
}

// bigTLVRule sets two TLVs of 65,535 octets, as a plugin may.
type bigTLVRule struct{}

func (bigTLVRule) MuxModule() module.Info {
	return module.Info{ID: "rule.big_tlv", New: func() module.Module { return bigTLVRule{} }}
}

func (bigTLVRule) Submit(m *module.Message) error {
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
	var m module.Message
	out, err := ApplyRules([]module.Rule{bigTLVRule{}}, &m, "c1", frame, nil)
	if got := rejectStatus(err); got != pdu.StatusInvMsgLen || out != nil {
		t.Fatalf("status %v, %d octets out, want ESME_RINVMSGLEN and nothing (%v)", got, len(out), err)
	}
}

// optDeliver is a DeliverRule that says whether it wants deliver_sm.
type optDeliver struct{ want bool }

func (optDeliver) MuxModule() module.Info        { return module.Info{ID: "rule.opt_deliver_test"} }
func (optDeliver) Submit(*module.Message) error  { return nil }
func (optDeliver) Deliver(*module.Message) error { return nil }
func (o optDeliver) WantsDeliver() bool          { return o.want }

// TestDeliverOptional checks that a DeliverOptional rule that says no is
// left out of the deliver chain, and stays in the submit chain.
func TestDeliverOptional(t *testing.T) {
	cc := newClientConf(ClientConfig{Rules: []module.Module{optDeliver{want: false}, optDeliver{want: true}}}, nil)
	if len(cc.rules) != 2 || len(cc.delivers) != 1 || !cc.delivers[0].(optDeliver).want {
		t.Fatalf("rules %d, delivers %v", len(cc.rules), cc.delivers)
	}
}
