package pdu

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// Tag is a TLV parameter tag (SMPP 3.4 §5.3.2).
type Tag uint16

// TLV tags of SMPP 3.4 §5.3.2 that smpp-mux or the provider use, and the
// provider's vendor tag.
const (
	TagDestAddrSubunit      Tag = 0x0005 // dest_addr_subunit: 1 octet; flash SMS
	TagSourceAddrSubunit    Tag = 0x000D // source_addr_subunit
	TagQOSTimeToLive        Tag = 0x0017 // qos_time_to_live
	TagPayloadType          Tag = 0x0019 // payload_type
	TagAddStatusInfoText    Tag = 0x001D // additional_status_info_text
	TagReceiptedMessageID   Tag = 0x001E // receipted_message_id: C-octet string
	TagMSMsgWaitFacilities  Tag = 0x0030 // ms_msg_wait_facilities
	TagPrivacyIndicator     Tag = 0x0201 // privacy_indicator
	TagSourceSubaddress     Tag = 0x0202 // source_subaddress
	TagDestSubaddress       Tag = 0x0203 // dest_subaddress
	TagUserMessageReference Tag = 0x0204 // user_message_reference: 2 octets
	TagUserResponseCode     Tag = 0x0205 // user_response_code
	TagSourcePort           Tag = 0x020A // source_port
	TagDestinationPort      Tag = 0x020B // destination_port
	TagSARMsgRefNum         Tag = 0x020C // sar_msg_ref_num: 2 octets
	TagLanguageIndicator    Tag = 0x020D // language_indicator
	TagSARTotalSegments     Tag = 0x020E // sar_total_segments: 1 octet
	TagSARSegmentSeqnum     Tag = 0x020F // sar_segment_seqnum: 1 octet
	TagSCInterfaceVersion   Tag = 0x0210 // sc_interface_version
	TagCallbackNum          Tag = 0x0381 // callback_num
	TagNetworkErrorCode     Tag = 0x0423 // network_error_code: 3 octets
	TagMessagePayload       Tag = 0x0424 // message_payload: octet string
	TagDeliveryFailReason   Tag = 0x0425 // delivery_failure_reason
	TagMoreMessagesToSend   Tag = 0x0426 // more_messages_to_send
	TagMessageState         Tag = 0x0427 // message_state: 1 octet
	TagUSSDServiceOp        Tag = 0x0501 // ussd_service_op
	TagMessageClass         Tag = 0x2900 // message_class: GatewayAPI vendor TLV, not SMPP 3.4
)

// Message states of SMPP 3.4 §5.2.28, carried in TLV message_state.
const (
	StateEnroute       = 1
	StateDelivered     = 2
	StateExpired       = 3
	StateDeleted       = 4
	StateUndeliverable = 5
	StateAccepted      = 6
	StateUnknown       = 7
	StateRejected      = 8
)

// TLVs is the optional part of a body, kept as its raw octets so that wire
// order and unknown tags survive forwarding. A TLVs value from a decoded
// body has been validated; a hand-made one is checked by Validate.
type TLVs []byte

// Validate checks that t is a sequence of whole TLVs.
func (t TLVs) Validate() error {
	for off := 0; off < len(t); {
		if len(t)-off < 4 {
			return &FieldError{Field: "tlv", Status: StatusInvOptParStream, Err: ErrTLVLength}
		}
		tag := binary.BigEndian.Uint16(t[off:])
		n := int(binary.BigEndian.Uint16(t[off+2:]))
		off += 4
		if n > len(t)-off {
			return &FieldError{Field: fmt.Sprintf("tlv 0x%04x", tag), Status: StatusInvParLen, Err: ErrTLVLength}
		}
		off += n
	}
	return nil
}

// All yields every TLV in wire order. It stops at the first malformed TLV.
func (t TLVs) All() iter.Seq2[Tag, []byte] {
	return func(yield func(Tag, []byte) bool) {
		for off := 0; len(t)-off >= 4; {
			tag := Tag(binary.BigEndian.Uint16(t[off:]))
			n := int(binary.BigEndian.Uint16(t[off+2:]))
			off += 4
			if n > len(t)-off {
				return
			}
			if !yield(tag, t[off:off+n:off+n]) {
				return
			}
			off += n
		}
	}
}

// Lookup returns the value of the first TLV with tag.
func (t TLVs) Lookup(tag Tag) ([]byte, bool) {
	for off := 0; len(t)-off >= 4; {
		n := int(binary.BigEndian.Uint16(t[off+2:]))
		if n > len(t)-off-4 {
			return nil, false
		}
		if Tag(binary.BigEndian.Uint16(t[off:])) == tag {
			return t[off+4 : off+4+n : off+4+n], true
		}
		off += 4 + n
	}
	return nil, false
}

// Byte returns a one-octet TLV value.
func (t TLVs) Byte(tag Tag) (byte, bool) {
	v, ok := t.Lookup(tag)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// Uint16 returns a two-octet TLV value.
func (t TLVs) Uint16(tag Tag) (uint16, bool) {
	v, ok := t.Lookup(tag)
	if !ok || len(v) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// CString returns a C-octet string TLV value without its NUL; a value that
// lacks the NUL is returned whole, since peers often omit it.
func (t TLVs) CString(tag Tag) ([]byte, bool) {
	v, ok := t.Lookup(tag)
	if !ok {
		return nil, false
	}
	if n := len(v); n > 0 && v[n-1] == 0 {
		v = v[:n-1]
	}
	return v, true
}

// AppendTLV appends one TLV to dst. A value over 65535 octets is cut: the
// caller checks sizes first.
func AppendTLV(dst []byte, tag Tag, value []byte) []byte {
	if len(value) > 0xFFFF {
		value = value[:0xFFFF]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(tag))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(value)))
	return append(dst, value...)
}

// Set returns t with the TLV tag set to value: the first one with tag is
// replaced in place of order, others with that tag are removed, and when
// there is none it is added at the end. The result is a new slice appended
// to dst, its capacity cut to its length so that appending to it never
// writes into dst's spare room; t is not modified, and must not lie in
// dst's spare room. A caller that keeps appending to dst uses AppendSet,
// which returns dst grown: dst itself still has its old length, so its
// next append would overwrite the result.
func (t TLVs) Set(dst []byte, tag Tag, value []byte) TLVs {
	start := len(dst)
	dst = t.AppendSet(dst, tag, value)
	return TLVs(dst[start:len(dst):len(dst)])
}

// AppendSet is Set that returns the whole of dst with the result appended,
// for a caller that keeps appending to one buffer: the result is the tail
// past the old len(dst).
func (t TLVs) AppendSet(dst []byte, tag Tag, value []byte) []byte {
	done := false
	for k, v := range t.All() {
		if k != tag {
			dst = AppendTLV(dst, k, v)
			continue
		}
		if !done {
			dst = AppendTLV(dst, tag, value)
			done = true
		}
	}
	if !done {
		dst = AppendTLV(dst, tag, value)
	}
	return dst
}

// Delete returns t without any TLV with tag, appended to dst, as Set
// returns its result: a caller that keeps appending to dst uses
// AppendDelete.
func (t TLVs) Delete(dst []byte, tag Tag) TLVs {
	start := len(dst)
	dst = t.AppendDelete(dst, tag)
	return TLVs(dst[start:len(dst):len(dst)])
}

// AppendDelete is Delete that returns the whole of dst with the result
// appended: the result is the tail past the old len(dst).
func (t TLVs) AppendDelete(dst []byte, tag Tag) []byte {
	for k, v := range t.All() {
		if k != tag {
			dst = AppendTLV(dst, k, v)
		}
	}
	return dst
}
