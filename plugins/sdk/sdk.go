package sdk

import "context"

// Handshake values shared by the mux and every plugin, defined here once:
// Serve and the mux (package sdk/host) build go-plugin's handshake from
// them. A plugin built against another ProtocolVersion is refused at
// start with an error that names both versions.
const (
	// ProtocolVersion is the version of the rule protocol; it changes only
	// when an incompatible change is made to it.
	ProtocolVersion = 1
	// MagicCookieKey and MagicCookieValue are set in the plugin's
	// environment by the mux; a plugin binary run by hand sees they are
	// missing and says it is a plugin instead of waiting for a handshake.
	MagicCookieKey   = "SMPPMUX_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "f1c3e5b7-rule-plugin-smpp-mux"
	// PluginName is the name the rule is served and dispensed under.
	PluginName = "rule"
)

// Rule is what a plugin author implements. The mux calls Submit once per
// submit_sm of a client whose [[client.rule]] names the plugin, before the
// message goes upstream. Calls arrive on many goroutines at once (one per
// batch the mux has in flight), so a Rule keeps any shared state safe for
// concurrent use.
//
// Submit returns a Verdict: Pass, Reject or Change. ctx carries the mux's
// deadline (the rule's timeout key); a Submit still running when it
// expires is answered by the mux's on_error instead. A non-nil error also
// applies on_error, as does a panic, which Serve recovers. m is valid only
// until Submit returns; changing it has no effect: changes are made with
// Change and its edits.
type Rule interface {
	Submit(ctx context.Context, m *Message) (Verdict, error)
}

// Deliverer is optionally implemented by a Rule that also wants each
// deliver_sm (a delivery receipt or an MO message) on its way to the
// client of the rule. Pass sends it as it is, Change sends it edited, and
// Reject drops it: it is never delivered (the status and reason only go
// to the mux's debug log). A Deliver that fails (error, panic, timeout,
// plugin down) lets the deliver_sm go out unchanged: a broken plugin
// never loses a receipt. Calls arrive concurrently, as for Submit; m is a
// deliver_sm's fields (SMPP 3.4 §4.6.1): for a receipt, SourceAddr is
// the handset that received the message and ESMClass has bit 0x04 set.
type Deliverer interface {
	Deliver(ctx context.Context, m *Message) (Verdict, error)
}

// Describer is optionally implemented by a Rule to name itself in the
// mux's log when the plugin starts.
type Describer interface {
	Describe() Info
}

// Info describes a plugin.
type Info struct {
	Name    string
	Version string
}

// TLV is one optional parameter of a submit_sm (SMPP 3.4 §5.3): a tag and
// its raw value.
type TLV struct {
	Tag   uint16
	Value []byte
}

// Message is the part of a submit_sm (SMPP 3.4 §4.4.1) a rule sees, or
// of a deliver_sm (§4.6.1, the same fields) a Deliverer sees.
type Message struct {
	Client             string // system_id of the client that sent it
	SourceTON          byte   // source_addr_ton
	SourceNPI          byte   // source_addr_npi
	SourceAddr         string // source_addr
	DestTON            byte   // dest_addr_ton
	DestNPI            byte   // dest_addr_npi
	DestAddr           string // destination_addr
	ESMClass           byte   // esm_class
	PriorityFlag       byte   // priority_flag
	DataCoding         byte   // data_coding
	RegisteredDelivery byte   // registered_delivery
	ShortMessage       []byte // short_message, undecoded (see DataCoding)
	TLVs               []TLV  // in wire order; unknown tags included
}

// TLV returns the value of the first TLV with tag.
func (m *Message) TLV(tag uint16) ([]byte, bool) {
	for _, t := range m.TLVs {
		if t.Tag == tag {
			return t.Value, true
		}
	}
	return nil, false
}

// Action is the kind of a Verdict.
type Action uint8

// The actions a Verdict can carry.
const (
	ActionPass   Action = iota // forward the message as it is
	ActionReject               // answer the client with Status (Deliver: drop the deliver_sm)
	ActionChange               // apply Edits, then forward
)

// Verdict is a rule's answer for one message. Make one with Pass, Reject
// or Change.
type Verdict struct {
	Action Action
	Status uint32 // ActionReject: the command_status the client gets
	Reason string // ActionReject: why, for the mux's debug log
	Edits  []Edit // ActionChange: applied in order
}

// Pass lets the message through unchanged.
func Pass() Verdict { return Verdict{} }

// Reject refuses the message: the client gets status (an SMPP 3.4 §5.1.3
// command_status such as 0x01 ESME_RINVMSGLEN or 0x0B ESME_RINVDSTADR) in
// its submit_sm_resp. A status of 0 is treated as ESME_RSYSERR 0x08.
func Reject(status uint32, reason string) Verdict {
	return Verdict{Action: ActionReject, Status: status, Reason: reason}
}

// Change lets the message through with edits applied in order. Change()
// with no edits is Pass.
func Change(edits ...Edit) Verdict {
	if len(edits) == 0 {
		return Pass()
	}
	return Verdict{Action: ActionChange, Edits: edits}
}

// EditKind says which field an Edit changes.
type EditKind uint8

// The fields a rule can change. The set is small on purpose: each maps to
// one setter of the mux, which re-encodes the submit_sm only when a rule
// changed it.
const (
	EditTLV                EditKind = iota + 1 // set TLV Tag to Value (replacing the first one and dropping later ones, else appending)
	EditPriority                               // set priority_flag to Number
	EditDestTON                                // set dest_addr_ton to Number
	EditSourceAddr                             // set source_addr to Value
	EditDeleteTLV                              // remove every TLV with Tag
	EditShortMessage                           // set short_message to Value
	EditDataCoding                             // set data_coding to Number
	EditESMClass                               // set esm_class to Number
	EditRegisteredDelivery                     // set registered_delivery to Number
)

// Edit is one change to a message. Make one with SetTLV, DeleteTLV,
// SetPriority, SetDestTON, SetSourceAddr, SetShortMessage, SetDataCoding,
// SetESMClass or SetRegisteredDelivery.
type Edit struct {
	Kind   EditKind
	Tag    uint16 // EditTLV, EditDeleteTLV
	Value  []byte // EditTLV, EditSourceAddr, EditShortMessage
	Number byte   // EditPriority, EditDestTON, EditDataCoding, EditESMClass, EditRegisteredDelivery
}

// SetTLV sets TLV tag to value: the first TLV with tag is replaced where
// it stands and later ones with tag are dropped, or the TLV is added at
// the end. value is at most 65535 octets.
func SetTLV(tag uint16, value []byte) Edit { return Edit{Kind: EditTLV, Tag: tag, Value: value} }

// SetPriority sets priority_flag (0–3, SMPP 3.4 §5.2.14).
func SetPriority(p byte) Edit { return Edit{Kind: EditPriority, Number: p} }

// SetDestTON sets dest_addr_ton (SMPP 3.4 §5.2.5).
func SetDestTON(ton byte) Edit { return Edit{Kind: EditDestTON, Number: ton} }

// SetSourceAddr sets source_addr (at most 20 characters and no NUL,
// SMPP 3.4 §5.2.8).
func SetSourceAddr(addr string) Edit { return Edit{Kind: EditSourceAddr, Value: []byte(addr)} }

// DeleteTLV removes every TLV with tag; with none it changes nothing.
func DeleteTLV(tag uint16) Edit { return Edit{Kind: EditDeleteTLV, Tag: tag} }

// SetShortMessage sets short_message to sm, undecoded (at most 254
// octets, SMPP 3.4 §5.2.22; longer text goes in TagMessagePayload). Set
// DataCoding too when the text's encoding changes.
func SetShortMessage(sm []byte) Edit { return Edit{Kind: EditShortMessage, Value: sm} }

// SetDataCoding sets data_coding (SMPP 3.4 §5.2.19: 0x00 default
// alphabet, 0x08 UCS2, ...).
func SetDataCoding(dc byte) Edit { return Edit{Kind: EditDataCoding, Number: dc} }

// SetESMClass sets esm_class (SMPP 3.4 §5.2.12; 0x40 is a UDH in
// short_message).
func SetESMClass(c byte) Edit { return Edit{Kind: EditESMClass, Number: c} }

// SetRegisteredDelivery sets registered_delivery (SMPP 3.4 §5.2.17; 0x01
// asks for a delivery receipt).
func SetRegisteredDelivery(rd byte) Edit { return Edit{Kind: EditRegisteredDelivery, Number: rd} }
