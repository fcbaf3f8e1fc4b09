// Package pdu is the SMPP 3.4 codec: the 16-byte header, the bodies of every
// command smpp-mux speaks, TLVs, command_status values, text codecs per
// data_coding and delivery receipt text.
//
// The codec is built for forwarding. A frame is a []byte holding one whole
// PDU; the mux reads a frame, patches its sequence number in place with
// PatchSeq and forwards the same bytes. Decoding a body fills a struct whose
// []byte fields are views into the frame (valid as long as the frame is), so
// decoding allocates nothing; Peek* functions read the few fields routing
// needs without decoding the whole body. Encoders append to a caller's
// buffer, as binary.BigEndian.AppendUint32 does.
//
// Every length is checked before it is used: a command_length below 16 or
// above the reader's maximum, a C-octet string without its NUL or past its
// field's maximum, a TLV running past the end of the body. No input panics.
//
// Start with header.go (Header, ReadFrame, PatchSeq), then submit_sm.go.
// The package never logs.
package pdu
