package pdu

import "bytes"

// smLayout holds the offsets, within a submit_sm or deliver_sm body, of the
// fields routing needs. It is found by skipping C-octet strings, without
// decoding the body.
type smLayout struct {
	dest     []byte // destination_addr, no NUL
	esmClass byte
	regDlr   byte
	dcs      byte
	sm       []byte // short_message
	tlvs     TLVs
}

// skipCString returns the offset after the NUL of the C-octet string at off,
// or -1.
func skipCString(b []byte, off, max int) int {
	if off > len(b) {
		return -1
	}
	rest := b[off:]
	if len(rest) > max {
		rest = rest[:max]
	}
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return -1
	}
	return off + i + 1
}

func scanSM(frame []byte) (smLayout, bool) {
	var l smLayout
	if len(frame) < HeaderLen {
		return l, false
	}
	id := ID(frame)
	if id != CmdSubmitSM && id != CmdDeliverSM {
		return l, false
	}
	b := frame[HeaderLen:]
	off := skipCString(b, 0, maxServiceType)
	if off < 0 || off+2 > len(b) {
		return l, false
	}
	if off = skipCString(b, off+2, maxAddr); off < 0 || off+2 > len(b) {
		return l, false
	}
	ds := off + 2
	if off = skipCString(b, ds, maxAddr); off < 0 || off+3 > len(b) {
		return l, false
	}
	l.dest = b[ds : off-1]
	l.esmClass = b[off]
	if off = skipCString(b, off+3, maxTime); off < 0 {
		return l, false
	}
	if off = skipCString(b, off, maxTime); off < 0 || off+5 > len(b) {
		return l, false
	}
	l.regDlr = b[off]
	l.dcs = b[off+2]
	n := int(b[off+4])
	off += 5
	if n > len(b)-off {
		return l, false
	}
	l.sm = b[off : off+n]
	l.tlvs = TLVs(b[off+n:])
	return l, true
}

// PeekESMClass returns the esm_class of a submit_sm or deliver_sm frame.
func PeekESMClass(frame []byte) (byte, bool) {
	l, ok := scanSM(frame)
	return l.esmClass, ok
}

// PeekDestAddr returns the destination_addr of a submit_sm or deliver_sm
// frame, a view into the frame.
func PeekDestAddr(frame []byte) ([]byte, bool) {
	l, ok := scanSM(frame)
	return l.dest, ok
}

// PeekRegisteredDelivery returns the registered_delivery of a submit_sm.
func PeekRegisteredDelivery(frame []byte) (byte, bool) {
	l, ok := scanSM(frame)
	return l.regDlr, ok
}

// PeekReceiptedMessageID returns TLV receipted_message_id of a deliver_sm
// frame, without its NUL.
func PeekReceiptedMessageID(frame []byte) ([]byte, bool) {
	l, ok := scanSM(frame)
	if !ok {
		return nil, false
	}
	return l.tlvs.CString(TagReceiptedMessageID)
}

// PeekMessageState returns TLV message_state (SMPP 3.4 §5.3.2.35) of a
// deliver_sm frame: one of the State constants, as the SMSC wrote it.
func PeekMessageState(frame []byte) (byte, bool) {
	l, ok := scanSM(frame)
	if !ok {
		return 0, false
	}
	v, ok := l.tlvs.Lookup(TagMessageState)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// PeekText returns the message octets of a submit_sm or deliver_sm frame
// (message_payload, else short_message), its data_coding and esm_class.
func PeekText(frame []byte) (text []byte, dataCoding, esmClass byte, ok bool) {
	l, ok := scanSM(frame)
	if !ok {
		return nil, 0, 0, false
	}
	if v, found := l.tlvs.Lookup(TagMessagePayload); found {
		return v, l.dcs, l.esmClass, true
	}
	return l.sm, l.dcs, l.esmClass, true
}

// ConcatRef identifies one concatenated message: all its parts carry the
// same reference and total.
type ConcatRef struct {
	Ref   uint16
	Total uint8
	Part  uint8
}

// SubmitInfo is what routing reads from a submit_sm: PeekSubmit finds it
// with one pass over the frame. DestAddr is a view into the frame.
type SubmitInfo struct {
	DestAddr           []byte
	RegisteredDelivery byte
	Concat             ConcatRef
	IsConcat           bool // Concat is set: the message is one part of several
}

// PeekSubmit reads the fields routing needs from a submit_sm frame.
func PeekSubmit(frame []byte) (SubmitInfo, bool) {
	l, ok := scanSM(frame)
	if !ok {
		return SubmitInfo{}, false
	}
	si := SubmitInfo{DestAddr: l.dest, RegisteredDelivery: l.regDlr}
	si.Concat, si.IsConcat = l.concat()
	return si, true
}

// PeekConcat returns the concatenation reference of a submit_sm frame, from
// a UDH information element 0x00 (8-bit reference) or 0x08 (16-bit
// reference) when esm_class has UDHI set, else from the sar_* TLVs.
func PeekConcat(frame []byte) (ConcatRef, bool) {
	l, ok := scanSM(frame)
	if !ok {
		return ConcatRef{}, false
	}
	return l.concat()
}

func (l *smLayout) concat() (ConcatRef, bool) {
	if l.esmClass&ESMClassUDHI != 0 {
		text := l.sm
		if v, found := l.tlvs.Lookup(TagMessagePayload); found {
			text = v
		}
		if r, ok := udhConcat(text); ok {
			return r, true
		}
	}
	ref, ok1 := l.tlvs.Uint16(TagSARMsgRefNum)
	total, ok2 := l.tlvs.Byte(TagSARTotalSegments)
	part, _ := l.tlvs.Byte(TagSARSegmentSeqnum)
	if ok1 && ok2 {
		return ConcatRef{Ref: ref, Total: total, Part: part}, true
	}
	return ConcatRef{}, false
}

// udhConcat finds a concatenation IE in a user data header (3GPP TS 23.040
// §9.2.3.24.1 and .8).
func udhConcat(ud []byte) (ConcatRef, bool) {
	if len(ud) < 1 {
		return ConcatRef{}, false
	}
	n := int(ud[0])
	if n+1 > len(ud) {
		return ConcatRef{}, false
	}
	h := ud[1 : n+1]
	for len(h) >= 2 {
		iei, l := h[0], int(h[1])
		if l+2 > len(h) {
			break
		}
		v := h[2 : 2+l]
		switch {
		case iei == 0x00 && l == 3:
			return ConcatRef{Ref: uint16(v[0]), Total: v[1], Part: v[2]}, true
		case iei == 0x08 && l == 4:
			return ConcatRef{Ref: uint16(v[0])<<8 | uint16(v[1]), Total: v[2], Part: v[3]}, true
		}
		h = h[2+l:]
	}
	return ConcatRef{}, false
}
