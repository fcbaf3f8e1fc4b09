package pdu

import (
	"errors"
	"fmt"
)

// Errors of body decoding, wrapped in a *FieldError that names the field.
var (
	ErrNoNUL      = errors.New("NUL missing from a C-octet string")
	ErrFieldLong  = errors.New("field over its maximum length")
	ErrTruncated  = errors.New("body ends inside the field")
	ErrTLVLength  = errors.New("TLV length past the end of the body")
	ErrTrailing   = errors.New("octets after the last field")
	ErrBadTLVSize = errors.New("TLV value of the wrong size")
)

// FieldError reports a body field that could not be decoded, with the status
// the peer should be answered with.
type FieldError struct {
	Field  string // spec name: "destination_addr", "sm_length", "tlv 0x0424"
	Status Status // answer for the peer: ESME_RINVDSTADR, ESME_RINVMSGLEN, ...
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("pdu: %s: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// StatusOf returns the command_status a peer should get for a decode error:
// the FieldError's status, else ESME_RINVCMDLEN.
func StatusOf(err error) Status {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Status != StatusOK {
		return fe.Status
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return StatusInvCmdLen
}

// cursor decodes a body left to right, keeping the first error; callers
// check err once at the end.
type cursor struct {
	b   []byte
	off int
	err error
}

func (c *cursor) fail(field string, st Status, err error) {
	if c.err == nil {
		c.err = &FieldError{Field: field, Status: st, Err: err}
	}
	c.off = len(c.b)
}

// cstring reads a C-octet string of at most max octets, NUL included, and
// returns it without its NUL.
func (c *cursor) cstring(field string, max int, st Status) []byte {
	if c.err != nil {
		return nil
	}
	rest := c.b[c.off:]
	lim := len(rest)
	if lim > max {
		lim = max
	}
	for i := 0; i < lim; i++ {
		if rest[i] == 0 {
			c.off += i + 1
			return rest[:i:i]
		}
	}
	if len(rest) >= max {
		c.fail(field, st, ErrFieldLong)
	} else {
		c.fail(field, st, ErrNoNUL)
	}
	return nil
}

func (c *cursor) byte1(field string) byte {
	if c.err != nil {
		return 0
	}
	if c.off >= len(c.b) {
		c.fail(field, StatusInvCmdLen, ErrTruncated)
		return 0
	}
	v := c.b[c.off]
	c.off++
	return v
}

func (c *cursor) octets(field string, n int, st Status) []byte {
	if c.err != nil {
		return nil
	}
	if n > len(c.b)-c.off {
		c.fail(field, st, ErrTruncated)
		return nil
	}
	v := c.b[c.off : c.off+n : c.off+n]
	c.off += n
	return v
}

// rest returns the remaining octets (the TLV part) after checking they are
// well formed TLVs.
func (c *cursor) tlvs() TLVs {
	if c.err != nil {
		return nil
	}
	t := TLVs(c.b[c.off:])
	if err := t.Validate(); err != nil {
		c.err = err
		return nil
	}
	c.off = len(c.b)
	if len(t) == 0 {
		return nil
	}
	return t
}

// end fails when octets are left over in a body that takes no TLVs.
func (c *cursor) end(field string) {
	if c.err == nil && c.off != len(c.b) {
		c.fail(field, StatusInvCmdLen, ErrTrailing)
	}
}

func appendCString(dst, s []byte) []byte {
	dst = append(dst, s...)
	return append(dst, 0)
}
