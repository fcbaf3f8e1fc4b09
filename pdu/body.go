package pdu

import "fmt"

// Body is the part of a PDU after its header. Every body type of this
// package implements it.
type Body interface {
	// AppendBody appends the encoded body to dst.
	AppendBody(dst []byte) []byte
	// Decode fills the body from the octets after the header. []byte
	// fields are views into body, valid as long as body is.
	Decode(body []byte) error
}

// Append appends a whole PDU to dst: the header with its command_length
// filled in, then b. A nil b makes a header-only PDU.
func Append(dst []byte, id CommandID, status Status, seq uint32, b Body) []byte {
	dst, start := begin(dst, id, status, seq)
	if b != nil {
		dst = b.AppendBody(dst)
	}
	return finish(dst, start)
}

// Empty is the body of PDUs that have none: enquire_link, unbind,
// generic_nack and their responses.
type Empty struct{}

// AppendBody implements Body.
func (Empty) AppendBody(dst []byte) []byte { return dst }

// Decode implements Body; octets in an empty body are an error.
func (*Empty) Decode(body []byte) error {
	if len(body) != 0 {
		return &FieldError{Field: "body", Status: StatusInvCmdLen, Err: ErrTrailing}
	}
	return nil
}

// NewBody returns an empty body value for id, or nil for a command this
// package does not decode (outbind, query_sm, data_sm, ...), which the
// caller answers with a status instead.
func NewBody(id CommandID) Body {
	switch id {
	case CmdBindReceiver, CmdBindTransmitter, CmdBindTransceiver:
		return new(Bind)
	case CmdBindReceiverResp, CmdBindTransmitterResp, CmdBindTransceiverResp:
		return new(BindResp)
	case CmdSubmitSM, CmdDeliverSM:
		return new(SM)
	case CmdSubmitSMResp, CmdDeliverSMResp:
		return new(SMResp)
	case CmdGenericNack, CmdEnquireLink, CmdEnquireLinkResp, CmdUnbind, CmdUnbindResp:
		return new(Empty)
	}
	return nil
}

// DecodeFrame decodes a whole frame: the header and, for the commands this
// package knows the body of, the body. The frame's command_length must equal
// len(frame). For other command ids the body is nil and err is nil.
func DecodeFrame(frame []byte) (Header, Body, error) {
	h, err := DecodeHeader(frame)
	if err != nil {
		return h, nil, err
	}
	if h.Length < HeaderLen {
		return h, nil, &LengthError{Header: h, Max: uint32(len(frame)), Err: ErrShortLength}
	}
	if int(h.Length) != len(frame) {
		return h, nil, fmt.Errorf("%w: command_length %d, frame %d octets", ErrLengthMismatch, h.Length, len(frame))
	}
	b := NewBody(h.ID)
	if b == nil {
		return h, nil, nil
	}
	// A response with an error status may come without its body.
	if h.ID.IsResp() && h.Status != StatusOK && len(frame) == HeaderLen {
		return h, b, nil
	}
	if err := b.Decode(frame[HeaderLen:]); err != nil {
		return h, nil, err
	}
	return h, b, nil
}
