package host

import (
	"encoding/binary"
	"fmt"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

// The host side's converters: to the wire for what the mux sends, from
// the wire for what the rule answers. The plugin side's are in package
// sdk (convert.go).

// RuleError is a plugin's own failure for one message: its Submit
// returned an error or panicked. The mux answers it with on_error.
type RuleError struct {
	Msg string
}

func (e *RuleError) Error() string { return "plugin rule: " + e.Msg }

// messageToProto converts a message for the wire (host side). The
// result shares m's byte slices.
func messageToProto(m *sdk.Message) *rulepb.Message {
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

// appendTLVs appends tlvs to dst in SMPP wire format. A value over 65535
// octets is cut, as the wire cannot carry it.
func appendTLVs(dst []byte, tlvs []sdk.TLV) []byte {
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

// verdictFromProto converts a verdict from the wire (host side). Action
// ERROR becomes a *RuleError; an action or edit this version does not
// know is an error too, never silently passed.
func verdictFromProto(p *rulepb.Verdict) (sdk.Verdict, error) {
	switch p.GetAction() {
	case rulepb.Verdict_PASS:
		return sdk.Verdict{}, nil
	case rulepb.Verdict_REJECT:
		return sdk.Verdict{Action: sdk.ActionReject, Status: p.GetStatus(), Reason: p.GetReason()}, nil
	case rulepb.Verdict_ERROR:
		return sdk.Verdict{}, &RuleError{Msg: p.GetReason()}
	case rulepb.Verdict_CHANGE:
		v := sdk.Verdict{Action: sdk.ActionChange, Edits: make([]sdk.Edit, len(p.GetEdits()))}
		for i, e := range p.GetEdits() {
			k := sdk.EditKind(e.GetKind())
			if k < sdk.EditTLV || k > sdk.EditRegisteredDelivery || e.GetTag() > 0xFFFF || e.GetNumber() > 0xFF {
				return sdk.Verdict{}, fmt.Errorf("plugin sent a malformed edit (kind %d)", e.GetKind())
			}
			v.Edits[i] = sdk.Edit{Kind: k, Tag: uint16(e.GetTag()), Value: e.GetValue(), Number: byte(e.GetNumber())}
		}
		return v, nil
	}
	return sdk.Verdict{}, fmt.Errorf("plugin sent an unknown verdict action %d", p.GetAction())
}
