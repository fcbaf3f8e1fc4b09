package sdk

import (
	"encoding/binary"
	"fmt"

	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

// The plugin side's converters between the plain types of sdk.go and the
// generated ones of internal/rulepb (terraform-plugin-go's tfprotov6 /
// tfplugin6 split): from the wire for what the mux sends, to the wire for
// what the rule answers. The host's, the other way, are in package
// sdk/host.

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
