package mux

import (
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// chain is a client's rules, built once per config.
type chain []module.Rule

// deliverChain is the client's rules that see deliver_sm.
type deliverChain []module.DeliverRule

func (c deliverChain) run(m *module.Message) error {
	for _, r := range c {
		if err := r.Deliver(m); err != nil {
			return err
		}
	}
	return nil
}

// ApplyRules runs rules over the submit_sm frame as a client's session
// does: it resets m for client, decodes the body of frame into it and
// runs the rules in order until one rejects. When no rule changed the
// message it returns frame itself, so the bytes go on as received;
// otherwise it returns the message encoded anew, with frame's sequence
// number, appended to dst. The error is the body's decode error or the
// first rejection. m's fields are views into frame and into m's scratch
// space until m is reset.
func ApplyRules(rules []module.Rule, m *module.Message, client string, frame, dst []byte) ([]byte, error) {
	m.Reset(client)
	if err := m.SM.Decode(frame[pdu.HeaderLen:]); err != nil {
		return nil, err
	}
	if err := chain(rules).run(m); err != nil {
		return nil, err
	}
	if !m.Changed() {
		return frame, nil
	}
	h, _ := pdu.DecodeHeader(frame)
	out := pdu.Append(dst, pdu.CmdSubmitSM, 0, h.Seq, &m.SM)
	if len(out) > pdu.DefaultMaxLength {
		// Edits (a plugin's TLVs) made a PDU the provider would refuse as
		// a whole; refuse the message, not the session.
		return nil, errRulesTooLong
	}
	return out, nil
}

var errRulesTooLong = &pdu.StatusError{Status: pdu.StatusInvMsgLen, Reason: "the rules' edits made the submit_sm longer than the largest PDU"}

// run applies the rules to m in order and stops at the first rejection.
func (c chain) run(m *module.Message) error {
	for _, r := range c {
		if err := r.Submit(m); err != nil {
			return err
		}
	}
	return nil
}
