package pdu

// Field maximums of submit_sm and deliver_sm, NUL included (SMPP 3.4 §4.4.1).
const (
	maxServiceType = 6
	maxAddr        = 21
	maxTime        = 17
	maxMessageID   = 65
	// MaxShortMessage is the largest sm_length; longer text goes in TLV
	// message_payload.
	MaxShortMessage = 254
)

// esm_class bits (SMPP 3.4 §5.2.12).
const (
	ESMClassTypeMask    = 0x3C // message type bits 5..2
	ESMClassReceipt     = 0x04 // SMSC delivery receipt
	ESMClassUDHI        = 0x40 // short_message starts with a UDH
	ESMClassReplyPath   = 0x80
	RegisteredDlrMask   = 0x03 // registered_delivery: SMSC delivery receipt bits
	RegisteredDlrAlways = 0x01 // receipt on success or failure
	RegisteredDlrFail   = 0x02 // receipt on failure only
)

// SM is the body of submit_sm and deliver_sm, which share one layout
// (SMPP 3.4 §4.4.1 and §4.6.1). In a deliver_sm the SMSC leaves the time
// fields and replace_if_present empty.
type SM struct {
	ServiceType          []byte
	SourceTON            byte
	SourceNPI            byte
	SourceAddr           []byte
	DestTON              byte
	DestNPI              byte
	DestAddr             []byte
	ESMClass             byte
	ProtocolID           byte
	PriorityFlag         byte
	ScheduleDeliveryTime []byte
	ValidityPeriod       []byte
	RegisteredDelivery   byte
	ReplaceIfPresent     byte
	DataCoding           byte
	SMDefaultMsgID       byte
	ShortMessage         []byte // sm_length is len(ShortMessage)
	TLVs                 TLVs
}

// SubmitSM is the body of submit_sm.
type SubmitSM = SM

// DeliverSM is the body of deliver_sm.
type DeliverSM = SM

// Decode implements Body.
func (m *SM) Decode(body []byte) error {
	c := cursor{b: body}
	m.ServiceType = c.cstring("service_type", maxServiceType, StatusInvServiceType)
	m.SourceTON = c.byte1("source_addr_ton")
	m.SourceNPI = c.byte1("source_addr_npi")
	m.SourceAddr = c.cstring("source_addr", maxAddr, StatusInvSrcAddr)
	m.DestTON = c.byte1("dest_addr_ton")
	m.DestNPI = c.byte1("dest_addr_npi")
	m.DestAddr = c.cstring("destination_addr", maxAddr, StatusInvDstAddr)
	m.ESMClass = c.byte1("esm_class")
	m.ProtocolID = c.byte1("protocol_id")
	m.PriorityFlag = c.byte1("priority_flag")
	m.ScheduleDeliveryTime = c.cstring("schedule_delivery_time", maxTime, StatusInvSched)
	m.ValidityPeriod = c.cstring("validity_period", maxTime, StatusInvExpiry)
	m.RegisteredDelivery = c.byte1("registered_delivery")
	m.ReplaceIfPresent = c.byte1("replace_if_present_flag")
	m.DataCoding = c.byte1("data_coding")
	m.SMDefaultMsgID = c.byte1("sm_default_msg_id")
	n := int(c.byte1("sm_length"))
	if n > MaxShortMessage {
		c.fail("sm_length", StatusInvMsgLen, ErrFieldLong)
	}
	m.ShortMessage = c.octets("short_message", n, StatusInvMsgLen)
	m.TLVs = c.tlvs()
	return c.err
}

// AppendBody implements Body. A ShortMessage over 254 octets is cut: put
// long text in message_payload instead.
func (m *SM) AppendBody(dst []byte) []byte {
	dst = appendCString(dst, m.ServiceType)
	dst = append(dst, m.SourceTON, m.SourceNPI)
	dst = appendCString(dst, m.SourceAddr)
	dst = append(dst, m.DestTON, m.DestNPI)
	dst = appendCString(dst, m.DestAddr)
	dst = append(dst, m.ESMClass, m.ProtocolID, m.PriorityFlag)
	dst = appendCString(dst, m.ScheduleDeliveryTime)
	dst = appendCString(dst, m.ValidityPeriod)
	sm := m.ShortMessage
	if len(sm) > MaxShortMessage {
		sm = sm[:MaxShortMessage]
	}
	dst = append(dst, m.RegisteredDelivery, m.ReplaceIfPresent, m.DataCoding, m.SMDefaultMsgID, byte(len(sm)))
	dst = append(dst, sm...)
	return append(dst, m.TLVs...)
}

// Text returns the message octets: TLV message_payload when present, else
// short_message.
func (m *SM) Text() []byte {
	if v, ok := m.TLVs.Lookup(TagMessagePayload); ok {
		return v
	}
	return m.ShortMessage
}

// IsReceipt reports whether a deliver_sm carries a delivery receipt rather
// than a mobile originated message.
func (m *SM) IsReceipt() bool { return m.ESMClass&ESMClassTypeMask == ESMClassReceipt }

// WantsReceipt reports whether a submit_sm asks for a delivery receipt.
func (m *SM) WantsReceipt() bool { return m.RegisteredDelivery&RegisteredDlrMask != 0 }

// SMResp is the body of submit_sm_resp and deliver_sm_resp: a message_id
// (SMPP 3.4 §4.4.2, §4.6.2; NULL in deliver_sm_resp).
type SMResp struct {
	MessageID []byte
}

// SubmitSMResp is the body of submit_sm_resp.
type SubmitSMResp = SMResp

// DeliverSMResp is the body of deliver_sm_resp.
type DeliverSMResp = SMResp

// Decode implements Body. An empty body is accepted: many peers send
// deliver_sm_resp, and failed submit_sm_resp, without one.
func (r *SMResp) Decode(body []byte) error {
	if len(body) == 0 {
		r.MessageID = nil
		return nil
	}
	c := cursor{b: body}
	r.MessageID = c.cstring("message_id", maxMessageID, StatusInvMsgID)
	c.end("message_id")
	return c.err
}

// AppendBody implements Body.
func (r *SMResp) AppendBody(dst []byte) []byte { return appendCString(dst, r.MessageID) }
