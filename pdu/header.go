package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderLen is the size of the SMPP header: command_length, command_id,
// command_status and sequence_number, four octets each (SMPP 3.4 §3.2).
const HeaderLen = 16

// DefaultMaxLength is the default largest command_length a reader accepts:
// room for a 64 KiB message_payload TLV plus every mandatory field.
const DefaultMaxLength = 64*1024 + 2048

// MaxSeq is the largest sequence_number; SMPP 3.4 §5.1.2.4 allows
// 0x00000001 to 0x7FFFFFFF.
const MaxSeq = 0x7FFFFFFF

// Header is the 16-octet SMPP PDU header.
type Header struct {
	Length uint32    // command_length, header included
	ID     CommandID // command_id
	Status Status    // command_status
	Seq    uint32    // sequence_number
}

// Errors returned by DecodeHeader and ReadFrame; match them with errors.Is.
var (
	ErrShortFrame  = errors.New("pdu: frame shorter than its header")
	ErrShortLength = errors.New("pdu: command_length below 16")
	ErrTooLong     = errors.New("pdu: command_length over the maximum")

	// ErrLengthMismatch reports a frame whose command_length is not its size.
	ErrLengthMismatch = errors.New("pdu: command_length does not match the frame")
)

// LengthError reports a command_length out of bounds. Header holds what was
// read, so a server can still answer generic_nack with the peer's sequence
// number before it closes the connection.
type LengthError struct {
	Header Header
	Max    uint32
	Err    error // ErrShortLength or ErrTooLong
}

func (e *LengthError) Error() string {
	if e.Err == ErrTooLong {
		return fmt.Sprintf("pdu: command_length %d over the maximum %d", e.Header.Length, e.Max)
	}
	return fmt.Sprintf("pdu: command_length %d below 16", e.Header.Length)
}

func (e *LengthError) Unwrap() error { return e.Err }

// DecodeHeader reads the header at the start of b. It checks only that b
// holds 16 octets; the caller checks Length against its own bounds.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShortFrame
	}
	_ = b[15]
	return Header{
		Length: binary.BigEndian.Uint32(b[0:]),
		ID:     CommandID(binary.BigEndian.Uint32(b[4:])),
		Status: Status(binary.BigEndian.Uint32(b[8:])),
		Seq:    binary.BigEndian.Uint32(b[12:]),
	}, nil
}

// AppendTo appends the 16 header octets to dst.
func (h Header) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, h.Length)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.ID))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.Status))
	return binary.BigEndian.AppendUint32(dst, h.Seq)
}

// PatchSeq overwrites the sequence_number of the frame in place. frame must
// hold at least a header.
func PatchSeq(frame []byte, seq uint32) {
	binary.BigEndian.PutUint32(frame[12:16], seq)
}

// PatchStatus overwrites the command_status of the frame in place.
func PatchStatus(frame []byte, s Status) {
	binary.BigEndian.PutUint32(frame[8:12], uint32(s))
}

// Seq returns the sequence_number of a frame of at least 16 octets.
func Seq(frame []byte) uint32 { return binary.BigEndian.Uint32(frame[12:16]) }

// ID returns the command_id of a frame of at least 16 octets.
func ID(frame []byte) CommandID { return CommandID(binary.BigEndian.Uint32(frame[4:8])) }

// ReadFrame reads one whole PDU from r into buf, growing it when needed, and
// returns the frame (a prefix of the possibly new buf). A command_length
// below 16 or above max is a *LengthError; the body is then not read, and
// the stream is out of step, so the caller closes the connection.
func ReadFrame(r io.Reader, buf []byte, max uint32) ([]byte, error) {
	if cap(buf) < HeaderLen {
		buf = make([]byte, 0, 256)
	}
	buf = buf[:HeaderLen]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	h, _ := DecodeHeader(buf)
	if h.Length < HeaderLen {
		return nil, &LengthError{Header: h, Max: max, Err: ErrShortLength}
	}
	if h.Length > max {
		return nil, &LengthError{Header: h, Max: max, Err: ErrTooLong}
	}
	n := int(h.Length)
	if cap(buf) < n {
		nb := make([]byte, n)
		copy(nb, buf[:HeaderLen])
		buf = nb
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf[HeaderLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// AppendHeaderOnly appends a PDU with an empty body: enquire_link, unbind,
// their responses, generic_nack, deliver_sm_resp without message_id, etc.
func AppendHeaderOnly(dst []byte, id CommandID, status Status, seq uint32) []byte {
	return Header{Length: HeaderLen, ID: id, Status: status, Seq: seq}.AppendTo(dst)
}

// begin appends a header whose command_length is filled in by finish.
func begin(dst []byte, id CommandID, status Status, seq uint32) ([]byte, int) {
	start := len(dst)
	return Header{ID: id, Status: status, Seq: seq}.AppendTo(dst), start
}

// finish writes the command_length of the PDU that starts at start.
func finish(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// PatchLen sets the command_length of frame to len(frame).
func PatchLen(frame []byte) {
	binary.BigEndian.PutUint32(frame[0:4], uint32(len(frame)))
}
