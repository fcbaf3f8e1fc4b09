package pdu

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Delivery receipt stat values (SMPP 3.4 Appendix B, message states §5.2.28).
// The provider sends all but StatDeleted.
const (
	StatEnroute       = "ENROUTE" // ENROUTE: in transit to the handset
	StatDelivered     = "DELIVRD" // DELIVRD: delivered to the handset
	StatExpired       = "EXPIRED" // EXPIRED: validity period passed
	StatDeleted       = "DELETED" // DELETED: cancelled before delivery
	StatUndeliverable = "UNDELIV" // UNDELIV: cannot be delivered
	StatAccepted      = "ACCEPTD" // ACCEPTD: accepted on the recipient's behalf
	StatUnknown       = "UNKNOWN" // UNKNOWN: no valid state
	StatRejected      = "REJECTD" // REJECTD: rejected by the network
	StatBuffered      = "BUFFERD" // BUFFERD: held for a later attempt (provider extension)
)

// ReceiptTextLen is how many characters of text a formatted receipt keeps:
// the provider puts the first 20 characters of user_message_reference there.
const ReceiptTextLen = 20

// Receipt errors.
var (
	// ErrReceiptNoID says a delivery receipt has no id: field, or an empty one.
	ErrReceiptNoID = errors.New("pdu: delivery receipt without id")
	// ErrReceiptField says a receipt err or date value is malformed.
	ErrReceiptField = errors.New("pdu: malformed delivery receipt field")
)

// Receipt is the text of an SMPP 3.4 Appendix B delivery receipt, carried in
// a deliver_sm short_message (or message_payload) with esm_class bit 2 set:
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//
// The fields are kept as the peer wrote them; this is an edge type for the
// store and logs, so strings are fine. A field that was absent is empty.
type Receipt struct {
	ID         string // message_id from the submit_sm_resp; hex, decimal or a UUID
	Sub        string // number submitted; providers send "001" and it can be ignored
	Dlvrd      string // number delivered; as Sub
	SubmitDate string // YYMMDDhhmm, see ParseReceiptTime
	DoneDate   string // YYMMDDhhmm, see ParseReceiptTime
	Stat       string // one of the Stat constants, see ValidStat
	Err        string // provider error code in base 10, see ReceiptErrCode
	Text       string // everything after "text:", spaces and colons included
}

// ParseReceipt parses delivery receipt text. Keys are matched without regard
// to case ("Text:" and "text:" both occur), in any order; "submit date" may
// also be written "submit_date" or "submitdate", and likewise "done date".
// Unknown key:value fields and stray words are skipped, and the first of a
// repeated key wins. A value runs to the next white space, except text, which
// runs to the end of b. Only id is required: without it (or with it empty)
// the error is ErrReceiptNoID. ParseReceipt copies b once; it never panics.
func ParseReceipt(b []byte) (Receipt, error) {
	s := string(b) // one copy; every field is a substring of it
	var r Receipt
	var seen uint16
	sc := receiptScanner{b: b}
	for {
		f, start, end, ok := sc.next()
		if !ok {
			break
		}
		if f == rfUnknown || seen&(1<<f) != 0 {
			continue
		}
		seen |= 1 << f
		v := s[start:end]
		switch f {
		case rfID:
			r.ID = v
		case rfSub:
			r.Sub = v
		case rfDlvrd:
			r.Dlvrd = v
		case rfSubmitDate:
			r.SubmitDate = v
		case rfDoneDate:
			r.DoneDate = v
		case rfStat:
			r.Stat = v
		case rfErr:
			r.Err = v
		case rfText:
			r.Text = v
		}
	}
	if r.ID == "" {
		return r, ErrReceiptNoID
	}
	return r, nil
}

// ReceiptID returns the value of the id: field of delivery receipt text, as a
// view into b, and false when there is none or it is empty. It finds the same
// id as ParseReceipt without allocating; the router calls it on every report.
func ReceiptID(b []byte) ([]byte, bool) { return receiptValue(b, rfID) }

// ReceiptStat returns the value of the stat: field of delivery receipt
// text, as a view into b, and false when there is none or it is empty. It
// finds the same stat as ParseReceipt without allocating.
func ReceiptStat(b []byte) ([]byte, bool) { return receiptValue(b, rfStat) }

// receiptValue returns the value of the first field f of receipt text.
func receiptValue(b []byte, want receiptField) ([]byte, bool) {
	sc := receiptScanner{b: b}
	for {
		f, start, end, ok := sc.next()
		if !ok {
			return nil, false
		}
		if f == want {
			return b[start:end], start < end
		}
	}
}

// StatState returns the message_state (SMPP 3.4 §5.2.28) that a receipt's
// stat value stands for, ignoring case. ok is false for BUFFERD, a
// provider extension with no message_state, and for anything else.
func StatState(stat []byte) (state byte, ok bool) {
	for _, s := range statStates {
		if asciiEqualFold(stat, s.name) {
			return s.state, true
		}
	}
	return 0, false
}

// statStates maps the lower-case stat values to their message_state.
var statStates = [...]struct {
	name  string
	state byte
}{
	{"delivrd", StateDelivered}, {"enroute", StateEnroute}, {"undeliv", StateUndeliverable},
	{"expired", StateExpired}, {"rejectd", StateRejected}, {"acceptd", StateAccepted},
	{"unknown", StateUnknown}, {"deleted", StateDeleted},
}

// AppendTo appends r in the canonical order the provider uses:
//
//	id:%s sub:%s dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s
//
// An empty Sub or Dlvrd is written "001" and an empty Err "000". Text is cut
// to its first ReceiptTextLen characters.
func (r Receipt) AppendTo(dst []byte) []byte {
	dst = append(dst, "id:"...)
	dst = append(dst, r.ID...)
	dst = append(dst, " sub:"...)
	dst = append(dst, orDefault(r.Sub, "001")...)
	dst = append(dst, " dlvrd:"...)
	dst = append(dst, orDefault(r.Dlvrd, "001")...)
	dst = append(dst, " submit date:"...)
	dst = append(dst, r.SubmitDate...)
	dst = append(dst, " done date:"...)
	dst = append(dst, r.DoneDate...)
	dst = append(dst, " stat:"...)
	dst = append(dst, r.Stat...)
	dst = append(dst, " err:"...)
	dst = append(dst, orDefault(r.Err, "000")...)
	dst = append(dst, " text:"...)
	return append(dst, truncateRunes(r.Text, ReceiptTextLen)...)
}

// String returns r as AppendTo formats it.
func (r Receipt) String() string { return string(r.AppendTo(nil)) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// truncateRunes returns the first n characters of s; invalid UTF-8 octets
// count as one character each.
func truncateRunes(s string, n int) string {
	for i := 0; i < len(s); n-- {
		if n == 0 {
			return s[:i]
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s
}

// ValidStat reports whether s is one of the Stat constants, spelled exactly.
func ValidStat(s string) bool {
	switch s {
	case StatEnroute, StatDelivered, StatExpired, StatDeleted, StatUndeliverable,
		StatAccepted, StatUnknown, StatRejected, StatBuffered:
		return true
	}
	return false
}

// ReceiptErr formats a provider SMS error code for the receipt err field.
// The field has three digits, so the provider keeps the low three hex digits
// of codes such as 0x107E (07E) and writes them in base 10 ("126"). Zero is
// "000"; values under 100 are zero-padded, and 0x3E8–0xFFF take four digits.
// The high nibble is dropped, so 0x1000 and 0 both give "000".
func ReceiptErr(code uint16) string {
	n := code & 0x0FFF
	var buf [4]byte
	b := strconv.AppendUint(buf[:0], uint64(n), 10)
	switch len(b) {
	case 1:
		return "00" + string(b)
	case 2:
		return "0" + string(b)
	}
	return string(b)
}

// ReceiptErrCode reverses ReceiptErr: it reads the base 10 err field and adds
// 0x1000 ("126" is 0x107E). "0" and "000" mean no error and give 0. Anything
// but one to four digits, or a value over 0xFFF, is an error wrapping
// ErrReceiptField.
func ReceiptErrCode(err string) (uint16, error) {
	if len(err) == 0 || len(err) > 4 {
		return 0, fmt.Errorf("%w: err %q is not 1 to 4 digits", ErrReceiptField, err)
	}
	n := 0
	for i := 0; i < len(err); i++ {
		c := err[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: err %q is not decimal", ErrReceiptField, err)
		}
		n = n*10 + int(c-'0')
	}
	if n > 0x0FFF {
		return 0, fmt.Errorf("%w: err %q over 4095", ErrReceiptField, err)
	}
	if n == 0 {
		return 0, nil
	}
	return 0x1000 | uint16(n), nil
}

const (
	receiptTimeLayout    = "0601021504"
	receiptTimeLayoutSec = "060102150405"
)

// ReceiptTime formats t in UTC as a receipt date, YYMMDDhhmm.
func ReceiptTime(t time.Time) string {
	return t.UTC().Format(receiptTimeLayout)
}

// ParseReceiptTime parses a receipt date, YYMMDDhhmm or YYMMDDhhmmss, as UTC.
// Two-digit years 69–99 are 1969–1999 and 00–68 are 2000–2068, as in
// time.Parse.
func ParseReceiptTime(s string) (time.Time, error) {
	layout := receiptTimeLayout
	switch len(s) {
	case len(receiptTimeLayout):
	case len(receiptTimeLayoutSec):
		layout = receiptTimeLayoutSec
	default:
		return time.Time{}, fmt.Errorf("%w: date %q is not 10 or 12 digits", ErrReceiptField, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("%w: date %q is not decimal", ErrReceiptField, s)
		}
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: date %q: %w", ErrReceiptField, s, err)
	}
	return t, nil
}

// receiptField names a receipt key; rfUnknown is any other key.
type receiptField uint8

const (
	rfUnknown receiptField = iota
	rfID
	rfSub
	rfDlvrd
	rfSubmitDate
	rfDoneDate
	rfStat
	rfErr
	rfText
)

// receiptKey classifies a one-token key (the octets before ':').
func receiptKey(k []byte) receiptField {
	switch {
	case asciiEqualFold(k, "id"):
		return rfID
	case asciiEqualFold(k, "sub"):
		return rfSub
	case asciiEqualFold(k, "dlvrd"):
		return rfDlvrd
	case asciiEqualFold(k, "stat"):
		return rfStat
	case asciiEqualFold(k, "err"):
		return rfErr
	case asciiEqualFold(k, "text"):
		return rfText
	case asciiEqualFold(k, "submit_date"), asciiEqualFold(k, "submitdate"):
		return rfSubmitDate
	case asciiEqualFold(k, "done_date"), asciiEqualFold(k, "donedate"):
		return rfDoneDate
	}
	return rfUnknown
}

// asciiEqualFold reports whether b equals the lower-case ASCII name,
// ignoring ASCII case.
func asciiEqualFold(b []byte, name string) bool {
	if len(b) != len(name) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

func isReceiptSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// receiptScanner walks the key:value fields of receipt text without
// allocating. It is shared by ParseReceipt and ReceiptID so they agree.
type receiptScanner struct {
	b   []byte
	pos int
}

func (s *receiptScanner) skipSpace(i int) int {
	for i < len(s.b) && isReceiptSpace(s.b[i]) {
		i++
	}
	return i
}

// token returns the end of the run of octets from i that are neither white
// space nor ':'.
func (s *receiptScanner) token(i int) int {
	for i < len(s.b) && s.b[i] != ':' && !isReceiptSpace(s.b[i]) {
		i++
	}
	return i
}

// key reads a key starting at i (not white space). It returns the field and
// the index of its ':', or ok false and where to resume when the word at i
// is not a key. "submit date:" and "done date:" span two words.
func (s *receiptScanner) key(i int) (f receiptField, colon int, ok bool) {
	j := s.token(i)
	if j < len(s.b) && s.b[j] == ':' {
		return receiptKey(s.b[i:j]), j, true
	}
	word := s.b[i:j]
	switch {
	case asciiEqualFold(word, "submit"):
		f = rfSubmitDate
	case asciiEqualFold(word, "done"):
		f = rfDoneDate
	default:
		return rfUnknown, j, false
	}
	k := s.skipSpace(j)
	e := s.token(k)
	if k == j || e >= len(s.b) || s.b[e] != ':' || !asciiEqualFold(s.b[k:e], "date") {
		return rfUnknown, j, false
	}
	return f, e, true
}

// next returns the next field and the bounds of its value in s.b, or ok
// false at the end. After "key:" and white space, a following key means the
// value is empty ("sub: dlvrd:001"), so keys are not swallowed as values.
func (s *receiptScanner) next() (f receiptField, start, end int, ok bool) {
	for {
		i := s.skipSpace(s.pos)
		if i >= len(s.b) {
			s.pos = i
			return rfUnknown, 0, 0, false
		}
		f, colon, isKey := s.key(i)
		if !isKey {
			s.pos = colon // stray word: skip it
			continue
		}
		v := colon + 1
		if f == rfText {
			s.pos = len(s.b)
			return f, v, len(s.b), true
		}
		k := s.skipSpace(v)
		if k > v && k < len(s.b) {
			if _, _, nextIsKey := s.key(k); nextIsKey {
				s.pos = k
				return f, k, k, true
			}
		}
		e := k
		for e < len(s.b) && !isReceiptSpace(s.b[e]) {
			e++
		}
		s.pos = e
		return f, k, e, true
	}
}
