package pdu

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Text errors. They are wrapped with the value, character or octet at fault;
// test for them with errors.Is.
var (
	// ErrBinary says the data_coding carries octets, not text (2, 4 and
	// the 8-bit classes), so there is nothing to decode or encode.
	ErrBinary = errors.New("pdu: binary data_coding has no text encoding")
	// ErrUnsupportedDataCoding says this package has no codec for the data_coding.
	ErrUnsupportedDataCoding = errors.New("pdu: unsupported data_coding")
	// ErrUnmappable says a character cannot be written in the data_coding's
	// character set, or the input is not valid UTF-8.
	ErrUnmappable = errors.New("pdu: character not representable in data_coding")
	// ErrInvalidText says a payload does not decode cleanly under its
	// data_coding: an octet outside the character set, a dangling GSM escape,
	// an odd-length or badly paired UCS-2 payload.
	ErrInvalidText = errors.New("pdu: payload does not decode under its data_coding")
)

// ASCII is IA5 / US-ASCII (data_coding 1): octets 0x00–0x7F only. Either
// direction fails on anything else, wrapping ErrInvalidText when decoding and
// ErrUnmappable when encoding.
var ASCII encoding.Encoding = asciiEncoding{}

// ucs2 is data_coding 8: big-endian UTF-16 without a byte order mark.
// Surrogate pairs are accepted, as handsets send them for emoji.
var ucs2 = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)

// textKind is the character set a data_coding selects.
type textKind uint8

const (
	textUnsupported textKind = iota
	textGSM7
	textASCII
	textBinary
	textLatin1
	textCyrillic
	textUCS2
)

// textKindOf classifies a data_coding: SMPP 3.4 §5.2.19 for 0x00–0x0F, and
// the GSM 03.38 §4 data coding scheme bits for the message-class groups
// (0x10–0x1B, 0xF0–0xF7), which is how flash SMS arrive (0x18 UCS-2 class
// 0, 0xF0 GSM 7-bit class 0).
func textKindOf(dc byte) textKind {
	switch dc {
	case 0x00:
		return textGSM7
	case 0x01:
		return textASCII
	case 0x02, 0x04:
		return textBinary
	case 0x03:
		return textLatin1
	case 0x06:
		return textCyrillic
	case 0x08:
		return textUCS2
	}
	switch {
	case dc >= 0x10 && dc <= 0x1B: // 00x1: general data coding with a class
		switch dc & 0x0C {
		case 0x00:
			return textGSM7
		case 0x04:
			return textBinary
		case 0x08:
			return textUCS2
		}
	case dc >= 0xF0 && dc <= 0xF7: // 1111 0xxx: data coding / message class
		if dc&0x04 == 0 {
			return textGSM7
		}
		return textBinary
	}
	return textUnsupported
}

// Codec returns the text encoding for an SMPP data_coding value. It returns
// ErrBinary for the binary codings (2, 4, 0x14–0x17, 0xF4–0xF7), and an error
// wrapping ErrUnsupportedDataCoding for values it does not know.
//
// The UCS-2 codec (8, 0x18–0x1B) is x/text's UTF-16 decoder, which replaces
// malformed input with U+FFFD: call CheckText first, or use DecodeText, when
// the payload comes from a peer.
func Codec(dataCoding byte) (encoding.Encoding, error) {
	switch textKindOf(dataCoding) {
	case textGSM7:
		return GSM7, nil
	case textASCII:
		return ASCII, nil
	case textBinary:
		return nil, ErrBinary
	case textLatin1:
		return charmap.ISO8859_1, nil
	case textCyrillic:
		return charmap.ISO8859_5, nil
	case textUCS2:
		return ucs2, nil
	}
	return nil, unsupportedDataCoding(dataCoding)
}

func unsupportedDataCoding(dc byte) error {
	return fmt.Errorf("%w: 0x%02X", ErrUnsupportedDataCoding, dc)
}

// DecodeText decodes a short_message or message_payload under its
// data_coding. Malformed input is an error wrapping ErrInvalidText (see
// CheckText), never replaced.
func DecodeText(dataCoding byte, b []byte) (string, error) {
	if err := CheckText(dataCoding, b); err != nil {
		return "", err
	}
	enc, err := Codec(dataCoding)
	if err != nil {
		return "", err
	}
	out, _, err := transform.Bytes(enc.NewDecoder(), b)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// EncodeText encodes s for the data_coding. A character the character set
// lacks, or invalid UTF-8 in s, is an error wrapping ErrUnmappable that names
// it.
func EncodeText(dataCoding byte, s string) ([]byte, error) {
	enc, err := Codec(dataCoding)
	if err != nil {
		return nil, err
	}
	if err := checkRunes(textKindOf(dataCoding), s); err != nil {
		return nil, err
	}
	out, _, err := transform.Bytes(enc.NewEncoder(), []byte(s))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkRunes finds, for the x/text codecs whose errors do not say which
// character failed, the first character of s that kind cannot carry.
func checkRunes(kind textKind, s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("%w: invalid UTF-8 octet 0x%02X at offset %d", ErrUnmappable, s[i], i)
			}
		}
		ok := true
		switch kind {
		case textLatin1:
			ok = r <= 0xFF
		case textCyrillic:
			_, ok = charmap.ISO8859_5.EncodeRune(r)
		}
		if !ok {
			return fmt.Errorf("%w: %q (%U) is not in %v", ErrUnmappable, r, r, kind)
		}
	}
	return nil
}

func (k textKind) String() string {
	switch k {
	case textGSM7:
		return "GSM 03.38"
	case textASCII:
		return "IA5"
	case textBinary:
		return "binary"
	case textLatin1:
		return "ISO-8859-1"
	case textCyrillic:
		return "ISO-8859-5"
	case textUCS2:
		return "UCS-2"
	}
	return "unsupported"
}

// CheckText reports whether b decodes cleanly under dataCoding, as the
// provider checks a submit_sm before accepting it: binary codings always
// pass; GSM 7-bit needs octets ≤ 0x7F and no dangling escape; IA5 needs
// octets ≤ 0x7F; ISO-8859-1 always passes; ISO-8859-5 needs every octet
// defined; UCS-2 needs an even length and surrogates in high-low pairs.
// The error wraps ErrInvalidText or ErrUnsupportedDataCoding. CheckText
// does not allocate when b is valid.
func CheckText(dataCoding byte, b []byte) error {
	switch textKindOf(dataCoding) {
	case textBinary, textLatin1:
		return nil
	case textGSM7:
		return checkGSM7(b)
	case textASCII:
		for i, c := range b {
			if c >= 0x80 {
				return fmt.Errorf("%w: IA5 octet 0x%02X above 0x7F at offset %d", ErrInvalidText, c, i)
			}
		}
		return nil
	case textCyrillic:
		for i, c := range b {
			if cyrillicUndefined[c] {
				return fmt.Errorf("%w: ISO-8859-5 octet 0x%02X undefined at offset %d", ErrInvalidText, c, i)
			}
		}
		return nil
	case textUCS2:
		return checkUCS2(b)
	}
	return unsupportedDataCoding(dataCoding)
}

// cyrillicUndefined marks the ISO-8859-5 octets charmap has no character for.
var cyrillicUndefined = func() (t [256]bool) {
	for i := range t {
		t[i] = charmap.ISO8859_5.DecodeByte(byte(i)) == utf8.RuneError
	}
	return t
}()

// checkUCS2 checks big-endian UTF-16: an even length, every high surrogate
// (D800–DBFF) followed by a low one (DC00–DFFF), and no low one alone.
func checkUCS2(b []byte) error {
	if len(b)%2 != 0 {
		return fmt.Errorf("%w: UCS-2 payload of odd length %d", ErrInvalidText, len(b))
	}
	for i := 0; i+1 < len(b); i += 2 {
		u := uint16(b[i])<<8 | uint16(b[i+1])
		switch {
		case u >= 0xDC00 && u <= 0xDFFF:
			return fmt.Errorf("%w: UCS-2 low surrogate 0x%04X alone at offset %d", ErrInvalidText, u, i)
		case u >= 0xD800 && u <= 0xDBFF:
			if i+3 >= len(b) {
				return fmt.Errorf("%w: UCS-2 high surrogate 0x%04X at the end", ErrInvalidText, u)
			}
			lo := uint16(b[i+2])<<8 | uint16(b[i+3])
			if lo < 0xDC00 || lo > 0xDFFF {
				return fmt.Errorf("%w: UCS-2 high surrogate 0x%04X followed by 0x%04X at offset %d", ErrInvalidText, u, lo, i)
			}
			i += 2
		}
	}
	return nil
}

type asciiEncoding struct{}

func (asciiEncoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: asciiTransformer{decode: true}}
}

func (asciiEncoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: asciiTransformer{}}
}

func (asciiEncoding) String() string { return "IA5" }

// asciiTransformer copies octets 0x00–0x7F and fails on any other, in
// either direction, since IA5 and UTF-8 agree on that range.
type asciiTransformer struct {
	transform.NopResetter
	decode bool
}

func (t asciiTransformer) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		if c >= utf8.RuneSelf {
			return nDst, nSrc, t.fail(src[nSrc:], atEOF)
		}
		if nDst >= len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		dst[nDst] = c
		nDst++
		nSrc++
	}
	return nDst, nSrc, nil
}

func (t asciiTransformer) fail(src []byte, atEOF bool) error {
	if t.decode {
		return fmt.Errorf("%w: IA5 octet 0x%02X above 0x7F", ErrInvalidText, src[0])
	}
	r, size := utf8.DecodeRune(src)
	if r == utf8.RuneError && size == 1 {
		if !atEOF && !utf8.FullRune(src) {
			return transform.ErrShortSrc
		}
		return fmt.Errorf("%w: invalid UTF-8 octet 0x%02X", ErrUnmappable, src[0])
	}
	return fmt.Errorf("%w: %q (%U) is not in IA5", ErrUnmappable, r, r)
}
