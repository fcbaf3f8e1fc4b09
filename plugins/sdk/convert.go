package sdk

import (
	"encoding/binary"
	"fmt"

	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

// This file is the only place that knows both the plain types of sdk.go
// and the generated ones of internal/rulepb (terraform-plugin-go's
// tfprotov6 / tfplugin6 split).

// RuleError is a plugin's own failure for one message: its Submit
// returned an error or panicked. The mux answers it with on_error.
type RuleError struct {
	Msg string
}

func (e *RuleError) Error() string { return "plugin rule: " + e.Msg }

// messageToProto converts a message for the wire (host side). The
// result shares m's byte slices.
func messageToProto(m *Message) *rulepb.Message {
	return &rulepb.Message{
		Client:             m.Client,
		SourceTon:          uint32(m.SourceTON),
		SourceNpi:          uint32(m.SourceNPI),
		SourceAddr:         m.SourceAddr,
		DestTon:            uint32(m.DestTON),
		DestNpi:            uint32(m.DestNPI),
		DestAddr:           m.DestAddr,
		EsmClass:           uint32(m.ESMClass),
		PriorityFlag:       uint32(m.PriorityFlag),
		DataCoding:         uint32(m.DataCoding),
		RegisteredDelivery: uint32(m.RegisteredDelivery),
		ShortMessage:       m.ShortMessage,
		Tlvs:               appendTLVs(nil, m.TLVs),
	}
}

// messageFromProto fills m from the wire (plugin side). m's slices share
// p's bytes.
func messageFromProto(p *rulepb.Message, m *Message) {
	*m = Message{
		Client:             p.GetClient(),
		SourceTON:          byte(p.GetSourceTon()),
		SourceNPI:          byte(p.GetSourceNpi()),
		SourceAddr:         p.GetSourceAddr(),
		DestTON:            byte(p.GetDestTon()),
		DestNPI:            byte(p.GetDestNpi()),
		DestAddr:           p.GetDestAddr(),
		ESMClass:           byte(p.GetEsmClass()),
		PriorityFlag:       byte(p.GetPriorityFlag()),
		DataCoding:         byte(p.GetDataCoding()),
		RegisteredDelivery: byte(p.GetRegisteredDelivery()),
		ShortMessage:       p.GetShortMessage(),
		TLVs:               parseTLVs(p.GetTlvs()),
	}
}

// appendTLVs appends tlvs to dst in SMPP wire format. A value over 65535
// octets is cut, as the wire cannot carry it.
func appendTLVs(dst []byte, tlvs []TLV) []byte {
	for _, t := range tlvs {
		v := t.Value
		if len(v) > 0xFFFF {
			v = v[:0xFFFF]
		}
		dst = binary.BigEndian.AppendUint16(dst, t.Tag)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// parseTLVs splits SMPP wire-format TLVs; it stops at a malformed one.
// Values share b.
func parseTLVs(b []byte) []TLV {
	if len(b) == 0 {
		return nil
	}
	var out []TLV
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n > len(b)-4 {
			break
		}
		out = append(out, TLV{Tag: binary.BigEndian.Uint16(b), Value: b[4 : 4+n : 4+n]})
		b = b[4+n:]
	}
	return out
}

// verdictToProto converts a rule's answer for the wire (plugin side).
func verdictToProto(v Verdict, err error) *rulepb.Verdict {
	if err != nil {
		return &rulepb.Verdict{Action: rulepb.Verdict_ERROR, Reason: err.Error()}
	}
	switch v.Action {
	case ActionPass:
		return &rulepb.Verdict{}
	case ActionReject:
		return &rulepb.Verdict{Action: rulepb.Verdict_REJECT, Status: v.Status, Reason: v.Reason}
	case ActionChange:
		p := &rulepb.Verdict{Action: rulepb.Verdict_CHANGE, Edits: make([]*rulepb.Edit, len(v.Edits))}
		for i, e := range v.Edits {
			p.Edits[i] = &rulepb.Edit{Kind: rulepb.Edit_Kind(e.Kind), Tag: uint32(e.Tag), Value: e.Value, Number: uint32(e.Number)}
		}
		return p
	}
	return &rulepb.Verdict{Action: rulepb.Verdict_ERROR, Reason: fmt.Sprintf("unknown verdict action %d", v.Action)}
}

// verdictFromProto converts a verdict from the wire (host side). Action
// ERROR becomes a *RuleError; an action or edit this version does not
// know is an error too, never silently passed.
func verdictFromProto(p *rulepb.Verdict) (Verdict, error) {
	switch p.GetAction() {
	case rulepb.Verdict_PASS:
		return Verdict{}, nil
	case rulepb.Verdict_REJECT:
		return Verdict{Action: ActionReject, Status: p.GetStatus(), Reason: p.GetReason()}, nil
	case rulepb.Verdict_ERROR:
		return Verdict{}, &RuleError{Msg: p.GetReason()}
	case rulepb.Verdict_CHANGE:
		v := Verdict{Action: ActionChange, Edits: make([]Edit, len(p.GetEdits()))}
		for i, e := range p.GetEdits() {
			k := EditKind(e.GetKind())
			if k < EditTLV || k > EditSourceAddr || e.GetTag() > 0xFFFF || e.GetNumber() > 0xFF {
				return Verdict{}, fmt.Errorf("plugin sent a malformed edit (kind %d)", e.GetKind())
			}
			v.Edits[i] = Edit{Kind: k, Tag: uint16(e.GetTag()), Value: e.GetValue(), Number: byte(e.GetNumber())}
		}
		return v, nil
	}
	return Verdict{}, fmt.Errorf("plugin sent an unknown verdict action %d", p.GetAction())
}
