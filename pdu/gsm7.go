package pdu

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// GSM7 is the GSM 03.38 default alphabet with its extension table, unpacked:
// one septet per octet, as SMPP carries it in short_message (data_coding 0).
// Extension characters (^ { } \ [ ~ ] | € and form feed) take two octets,
// the escape 0x1B followed by the character's code.
//
// The encoder fails with an error wrapping ErrUnmappable on a character the
// alphabet lacks, and on invalid UTF-8; it never substitutes '?'. The decoder
// fails with an error wrapping ErrInvalidText on an octet above 0x7F or on a
// trailing escape with nothing after it. An unknown escape sequence 0x1B X
// decodes as the basic character X, and 0x1B 0x1B as a space
// (GSM 03.38 §6.2.1.1).
var GSM7 encoding.Encoding = gsm7Encoding{}

// gsmEsc is the escape to the extension table (GSM 03.38 §6.2.1).
const gsmEsc = 0x1B

// gsmBasic is the GSM 03.38 §6.2.1 default alphabet, indexed by septet.
// Index 0x1B is the escape and is never looked up.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExtension is the GSM 03.38 §6.2.1.1 extension table: the septet after
// the escape and the character it stands for.
var gsmExtension = [...]struct {
	septet byte
	r      rune
}{
	{0x0A, '\f'}, {0x14, '^'}, {0x28, '{'}, {0x29, '}'}, {0x2F, '\\'},
	{0x3C, '['}, {0x3D, '~'}, {0x3E, ']'}, {0x40, '|'}, {0x65, '€'},
}

// gsmCode is an encoded character: the septet in the low byte, and
// gsmCodeEsc set when the escape goes before it. Zero means unmappable, which
// is unambiguous because '@' (septet 0) is stored as gsmCodeOK.
type gsmCode uint16

const (
	gsmCodeOK  gsmCode = 0x100
	gsmCodeEsc gsmCode = 0x200
)

var (
	// gsmExtDecode maps the septet after an escape to its character.
	gsmExtDecode [128]rune
	// gsmEncodeASCII maps runes below 0x80 to their code.
	gsmEncodeASCII [128]gsmCode
	// gsmEncodeOther maps the other runes of both tables to their code.
	// Written only by init, so safe for concurrent reads.
	gsmEncodeOther = make(map[rune]gsmCode, 64)
)

func init() {
	// Unknown escapes fall back to the basic character (§6.2.1.1 note);
	// 0x1B 0x1B is reserved for another extension and shows as a space.
	gsmExtDecode = gsmBasic
	gsmExtDecode[gsmEsc] = ' '
	for i, r := range gsmBasic {
		if i == gsmEsc {
			continue
		}
		gsmSetCode(r, gsmCodeOK|gsmCode(i))
	}
	for _, e := range gsmExtension {
		gsmExtDecode[e.septet] = e.r
		gsmSetCode(e.r, gsmCodeOK|gsmCodeEsc|gsmCode(e.septet))
	}
}

func gsmSetCode(r rune, c gsmCode) {
	if r < utf8.RuneSelf {
		gsmEncodeASCII[r] = c
		return
	}
	gsmEncodeOther[r] = c
}

// gsmLookup returns the code of r, or 0 when GSM 03.38 has no such character.
func gsmLookup(r rune) gsmCode {
	if r >= 0 && r < utf8.RuneSelf {
		return gsmEncodeASCII[r]
	}
	return gsmEncodeOther[r]
}

type gsm7Encoding struct{}

func (gsm7Encoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: gsm7Decoder{}}
}

func (gsm7Encoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: gsm7Encoder{}}
}

func (gsm7Encoding) String() string { return "GSM 03.38" }

// gsm7Decoder turns unpacked septets into UTF-8.
type gsm7Decoder struct{ transform.NopResetter }

func (gsm7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		if c >= 0x80 {
			return nDst, nSrc, fmt.Errorf("%w: GSM 7-bit octet 0x%02X above 0x7F", ErrInvalidText, c)
		}
		r, size := gsmBasic[c], 1
		if c == gsmEsc {
			if nSrc+1 >= len(src) {
				if atEOF {
					return nDst, nSrc, fmt.Errorf("%w: GSM 7-bit escape 0x1B at the end", ErrInvalidText)
				}
				return nDst, nSrc, transform.ErrShortSrc
			}
			e := src[nSrc+1]
			if e >= 0x80 {
				return nDst, nSrc, fmt.Errorf("%w: GSM 7-bit octet 0x%02X above 0x7F", ErrInvalidText, e)
			}
			r, size = gsmExtDecode[e], 2
		}
		if r < utf8.RuneSelf {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = byte(r)
			nDst++
		} else {
			if nDst+utf8.RuneLen(r) > len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			nDst += utf8.EncodeRune(dst[nDst:], r)
		}
		nSrc += size
	}
	return nDst, nSrc, nil
}

// gsm7Encoder turns UTF-8 into unpacked septets.
type gsm7Encoder struct{ transform.NopResetter }

func (gsm7Encoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		r, size := rune(src[nSrc]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(src[nSrc:])
			if r == utf8.RuneError && size == 1 {
				if !atEOF && !utf8.FullRune(src[nSrc:]) {
					return nDst, nSrc, transform.ErrShortSrc
				}
				return nDst, nSrc, fmt.Errorf("%w: invalid UTF-8 octet 0x%02X", ErrUnmappable, src[nSrc])
			}
		}
		code := gsmLookup(r)
		if code == 0 {
			return nDst, nSrc, fmt.Errorf("%w: %q (%U) is not in GSM 03.38", ErrUnmappable, r, r)
		}
		if code&gsmCodeEsc != 0 {
			if nDst+2 > len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = gsmEsc
			nDst++
		} else if nDst >= len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		dst[nDst] = byte(code)
		nDst++
		nSrc += size
	}
	return nDst, nSrc, nil
}

// checkGSM7 reports whether b is well-formed unpacked GSM 7-bit text:
// every octet at most 0x7F and no escape without a character after it.
func checkGSM7(b []byte) error {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x80 {
			return fmt.Errorf("%w: GSM 7-bit octet 0x%02X above 0x7F at offset %d", ErrInvalidText, c, i)
		}
		if c == gsmEsc {
			i++
			if i >= len(b) {
				return fmt.Errorf("%w: GSM 7-bit escape 0x1B at the end", ErrInvalidText)
			}
			if b[i] >= 0x80 {
				return fmt.Errorf("%w: GSM 7-bit octet 0x%02X above 0x7F at offset %d", ErrInvalidText, b[i], i)
			}
		}
	}
	return nil
}

// GSM7Len returns how many septets s takes in GSM 03.38, counting two for
// each extension character, and false when s has a character (or invalid
// UTF-8) that GSM 03.38 cannot carry. It does not allocate.
func GSM7Len(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return n, false
			}
		}
		code := gsmLookup(r)
		switch {
		case code == 0:
			return n, false
		case code&gsmCodeEsc != 0:
			n += 2
		default:
			n++
		}
		i += size
	}
	return n, true
}
