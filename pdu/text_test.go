package pdu

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"golang.org/x/text/transform"
)

// gsmBasicGolden is GSM 03.38 §6.2.1 written out independently of gsmBasic,
// in septet order; index 0x1B (the escape) holds U+001B as a placeholder.
const gsmBasicGolden = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ" +
	" !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmnopqrstuvwxyzäöñüà"

func TestGSM7BasicTable(t *testing.T) {
	t.Parallel()
	runes := []rune(gsmBasicGolden)
	if len(runes) != 128 {
		t.Fatalf("golden table has %d characters, want 128", len(runes))
	}
	for i, r := range runes {
		if i == gsmEsc {
			continue
		}
		got, err := EncodeText(0, string(r))
		if err != nil || !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("EncodeText(%q) = % X, %v; want %02X", r, got, err, i)
		}
		s, err := DecodeText(0, []byte{byte(i)})
		if err != nil || s != string(r) {
			t.Errorf("DecodeText(%02X) = %q, %v; want %q", i, s, err, r)
		}
	}
}

func TestGSM7ExtensionTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r      rune
		septet byte
	}{
		{'\f', 0x0A}, {'^', 0x14}, {'{', 0x28}, {'}', 0x29}, {'\\', 0x2F},
		{'[', 0x3C}, {'~', 0x3D}, {']', 0x3E}, {'|', 0x40}, {'€', 0x65},
	} {
		t.Run(string(tc.r), func(t *testing.T) {
			t.Parallel()
			want := []byte{0x1B, tc.septet}
			got, err := EncodeText(0, string(tc.r))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("EncodeText(%q) = % X, %v; want % X", tc.r, got, err, want)
			}
			s, err := DecodeText(0, want)
			if err != nil || s != string(tc.r) {
				t.Fatalf("DecodeText(% X) = %q, %v; want %q", want, s, err, tc.r)
			}
		})
	}
}

func TestGSM7(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		wire []byte
	}{
		{"currency", "@£$¥", []byte{0x00, 0x01, 0x02, 0x03}},
		{"euro", "€", []byte{0x1B, 0x65}},
		{"brace", "{", []byte{0x1B, 0x28}},
		{"hello", "Hello {world} €5", []byte("Hello \x1b\x28world\x1b\x29 \x1b\x655")},
		{"newlines", "a\nb\rc\fd", []byte("a\nb\rc\x1b\x0ad")},
		{"empty", "", []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := EncodeText(0, tc.text)
			if err != nil || !bytes.Equal(got, tc.wire) {
				t.Fatalf("EncodeText(%q) = % X, %v; want % X", tc.text, got, err, tc.wire)
			}
			s, err := DecodeText(0, tc.wire)
			if err != nil || s != tc.text {
				t.Fatalf("DecodeText(% X) = %q, %v; want %q", tc.wire, s, err, tc.text)
			}
		})
	}
}

func TestGSM7DecodeLenient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wire []byte
		want string
	}{
		{"unknown escape shows base", []byte{0x1B, 'A'}, "A"},
		{"escape escape shows space", []byte{0x1B, 0x1B, 'x'}, " x"},
		{"escape at-sign", []byte{0x1B, 0x00}, "@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeText(0, tc.wire)
			if err != nil || got != tc.want {
				t.Fatalf("DecodeText(% X) = %q, %v; want %q", tc.wire, got, err, tc.want)
			}
		})
	}
}

func TestGSM7Errors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"octet above 0x7F", []byte{'a', 0x80}},
		{"dangling escape", []byte{'a', 0x1B}},
		{"escape then high octet", []byte{0x1B, 0xFF}},
	} {
		t.Run("decode "+tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := DecodeText(0, tc.wire); !errors.Is(err, ErrInvalidText) {
				t.Errorf("DecodeText(% X) error = %v, want ErrInvalidText", tc.wire, err)
			}
			if err := CheckText(0, tc.wire); !errors.Is(err, ErrInvalidText) {
				t.Errorf("CheckText(% X) = %v, want ErrInvalidText", tc.wire, err)
			}
			// The transformer itself must fail too, not only CheckText.
			if _, _, err := transform.Bytes(GSM7.NewDecoder(), tc.wire); !errors.Is(err, ErrInvalidText) {
				t.Errorf("GSM7 decoder on % X: %v, want ErrInvalidText", tc.wire, err)
			}
		})
	}
	for _, tc := range []struct {
		name, text, mention string
	}{
		{"cjk", "Hello 世界", "世"},
		{"emoji", "ok 😀", "😀"},
		{"c cedilla", "ç", "ç"},
		{"escape rune", "\x1b", "U+001B"},
		{"tab", "a\tb", "U+0009"},
		{"invalid utf8", "a\xffb", "0xFF"},
	} {
		t.Run("encode "+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := EncodeText(0, tc.text)
			if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("EncodeText(%q) error = %v, want ErrUnmappable naming %s", tc.text, err, tc.mention)
			}
			if _, _, err := transform.String(GSM7.NewEncoder(), tc.text); !errors.Is(err, ErrUnmappable) {
				t.Fatalf("GSM7 encoder on %q: %v, want ErrUnmappable", tc.text, err)
			}
		})
	}
}

// TestGSM7Boundaries forces ErrShortDst and ErrShortSrc: long input through
// transform's fixed buffers, and one-byte reads that split escapes and
// multi-byte UTF-8.
func TestGSM7Boundaries(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("€a{ü}ß^", 1000)
	wire := bytes.Repeat([]byte("\x1b\x65a\x1b\x28\x7e\x1b\x29\x1e\x1b\x14"), 1000)

	t.Run("encode long", func(t *testing.T) {
		t.Parallel()
		got, _, err := transform.String(GSM7.NewEncoder(), text)
		if err != nil || got != string(wire) {
			t.Fatalf("encode: err %v, got %d octets, want %d", err, len(got), len(wire))
		}
	})
	t.Run("decode long", func(t *testing.T) {
		t.Parallel()
		got, _, err := transform.Bytes(GSM7.NewDecoder(), wire)
		if err != nil || string(got) != text {
			t.Fatalf("decode: err %v, got %d octets, want %d", err, len(got), len(text))
		}
	})
	t.Run("encode one byte reads", func(t *testing.T) {
		t.Parallel()
		r := transform.NewReader(iotest.OneByteReader(strings.NewReader(text)), GSM7.NewEncoder())
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, wire) {
			t.Fatalf("encode: err %v, got %d octets, want %d", err, len(got), len(wire))
		}
	})
	t.Run("decode one byte reads", func(t *testing.T) {
		t.Parallel()
		r := transform.NewReader(iotest.OneByteReader(bytes.NewReader(wire)), GSM7.NewDecoder())
		got, err := io.ReadAll(r)
		if err != nil || string(got) != text {
			t.Fatalf("decode: err %v, got %d octets, want %d", err, len(got), len(text))
		}
	})
	t.Run("short dst", func(t *testing.T) {
		t.Parallel()
		var dst [1]byte
		nDst, nSrc, err := gsm7Encoder{}.Transform(dst[:], []byte("€"), true)
		if err != transform.ErrShortDst || nDst != 0 || nSrc != 0 {
			t.Errorf("encoder = %d, %d, %v; want 0, 0, ErrShortDst", nDst, nSrc, err)
		}
		nDst, nSrc, err = gsm7Decoder{}.Transform(dst[:], []byte{0x1B, 0x65}, true)
		if err != transform.ErrShortDst || nDst != 0 || nSrc != 0 {
			t.Errorf("decoder = %d, %d, %v; want 0, 0, ErrShortDst", nDst, nSrc, err)
		}
	})
	t.Run("short src", func(t *testing.T) {
		t.Parallel()
		var dst [8]byte
		nDst, nSrc, err := gsm7Decoder{}.Transform(dst[:], []byte{'a', 0x1B}, false)
		if err != transform.ErrShortSrc || nDst != 1 || nSrc != 1 {
			t.Errorf("decoder = %d, %d, %v; want 1, 1, ErrShortSrc", nDst, nSrc, err)
		}
		nDst, nSrc, err = gsm7Encoder{}.Transform(dst[:], []byte("a\xe2\x82"), false)
		if err != transform.ErrShortSrc || nDst != 1 || nSrc != 1 {
			t.Errorf("encoder = %d, %d, %v; want 1, 1, ErrShortSrc", nDst, nSrc, err)
		}
	})
}

func TestGSM7Len(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    string
		n    int
		ok   bool
	}{
		{"plain", "Hello", 5, true},
		{"extension counts two", "€{}", 6, true},
		{"unmappable", "Hi 世", 3, false},
		{"invalid utf8", "\xff", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, ok := GSM7Len(tc.s)
			if n != tc.n || ok != tc.ok {
				t.Fatalf("GSM7Len(%q) = %d, %v; want %d, %v", tc.s, n, ok, tc.n, tc.ok)
			}
		})
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	ucs2Hi := []byte{0x00, 'H', 0x00, 'i', 0x00, ' ', 0xD8, 0x3D, 0xDE, 0x00}
	for _, tc := range []struct {
		name string
		dc   byte
		text string
		wire []byte
	}{
		{"0 GSM7", 0x00, "Hello {world} €5", []byte("Hello \x1b\x28world\x1b\x29 \x1b\x655")},
		{"1 IA5", 0x01, "Hello, World ~{}", []byte("Hello, World ~{}")},
		{"3 Latin-1", 0x03, "Grüße ÿ©", []byte{'G', 'r', 0xFC, 0xDF, 'e', ' ', 0xFF, 0xA9}},
		{"6 ISO-8859-5", 0x06, "Привет №", []byte{0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2, ' ', 0xF0}},
		{"8 UCS-2", 0x08, "Hi 😀", ucs2Hi},
		{"8 UCS-2 surrogate pair", 0x08, "😀", []byte{0xD8, 0x3D, 0xDE, 0x00}},
		{"8 UCS-2 keeps BOM", 0x08, "\uFEFFx", []byte{0xFE, 0xFF, 0x00, 'x'}},
		{"8 UCS-2 GSM-able text", 0x08, "@", []byte{0x00, '@'}},
		{"0x10 GSM7 class 0", 0x10, "€", []byte{0x1B, 0x65}},
		{"0x18 UCS-2 flash", 0x18, "Hi 😀", ucs2Hi},
		{"0x1B UCS-2 class 3", 0x1B, "Ж", []byte{0x04, 0x16}},
		{"0xF0 GSM7 flash", 0xF0, "@£$¥", []byte{0, 1, 2, 3}},
		{"0xF3 GSM7 class 3", 0xF3, "[x]", []byte{0x1B, 0x3C, 'x', 0x1B, 0x3E}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := EncodeText(tc.dc, tc.text)
			if err != nil || !bytes.Equal(got, tc.wire) {
				t.Fatalf("EncodeText(0x%02X, %q) = % X, %v; want % X", tc.dc, tc.text, got, err, tc.wire)
			}
			if err := CheckText(tc.dc, tc.wire); err != nil {
				t.Fatalf("CheckText(0x%02X, % X) = %v", tc.dc, tc.wire, err)
			}
			s, err := DecodeText(tc.dc, tc.wire)
			if err != nil || s != tc.text {
				t.Fatalf("DecodeText(0x%02X, % X) = %q, %v; want %q", tc.dc, tc.wire, s, err, tc.text)
			}
			enc, err := Codec(tc.dc)
			if err != nil {
				t.Fatalf("Codec(0x%02X): %v", tc.dc, err)
			}
			if s, err := enc.NewDecoder().String(string(tc.wire)); err != nil || s != tc.text {
				t.Fatalf("Codec(0x%02X) decoder = %q, %v; want %q", tc.dc, s, err, tc.text)
			}
		})
	}
}

func TestCodecBinaryAndUnsupported(t *testing.T) {
	t.Parallel()
	for _, dc := range []byte{0x02, 0x04, 0x14, 0x17, 0xF4, 0xF7} {
		t.Run("binary "+hexByte(dc), func(t *testing.T) {
			t.Parallel()
			if _, err := Codec(dc); err != ErrBinary {
				t.Errorf("Codec = %v, want ErrBinary", err)
			}
			if _, err := DecodeText(dc, []byte{0xFF}); err != ErrBinary {
				t.Errorf("DecodeText = %v, want ErrBinary", err)
			}
			if _, err := EncodeText(dc, "x"); err != ErrBinary {
				t.Errorf("EncodeText = %v, want ErrBinary", err)
			}
			if err := CheckText(dc, []byte{0x00, 0xFF, 0x1B}); err != nil {
				t.Errorf("CheckText = %v, want nil", err)
			}
		})
	}
	for _, dc := range []byte{0x05, 0x07, 0x09, 0x0E, 0x1C, 0x20, 0xC0, 0xE8, 0xF8, 0xFF} {
		t.Run("unsupported "+hexByte(dc), func(t *testing.T) {
			t.Parallel()
			_, err := Codec(dc)
			if !errors.Is(err, ErrUnsupportedDataCoding) || !strings.Contains(err.Error(), hexByte(dc)) {
				t.Errorf("Codec = %v, want ErrUnsupportedDataCoding naming %s", err, hexByte(dc))
			}
			if _, err := DecodeText(dc, nil); !errors.Is(err, ErrUnsupportedDataCoding) {
				t.Errorf("DecodeText = %v", err)
			}
			if _, err := EncodeText(dc, ""); !errors.Is(err, ErrUnsupportedDataCoding) {
				t.Errorf("EncodeText = %v", err)
			}
			if err := CheckText(dc, nil); !errors.Is(err, ErrUnsupportedDataCoding) {
				t.Errorf("CheckText = %v", err)
			}
		})
	}
}

func hexByte(b byte) string {
	const digits = "0123456789ABCDEF"
	return "0x" + string(digits[b>>4]) + string(digits[b&0xF])
}

func TestEncodeTextUnmappable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		dc      byte
		text    string
		mention string
	}{
		{"IA5 e acute", 0x01, "café", "é"},
		{"Latin-1 euro", 0x03, "5€", "€"},
		{"ISO-8859-5 e acute", 0x06, "é", "é"},
		{"UCS-2 invalid utf8", 0x08, "a\xc3", "0xC3"},
		{"Latin-1 invalid utf8", 0x03, "\xff", "0xFF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := EncodeText(tc.dc, tc.text)
			if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("EncodeText(0x%02X, %q) error = %v, want ErrUnmappable naming %s", tc.dc, tc.text, err, tc.mention)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		dc   byte
		b    []byte
		ok   bool
	}{
		{"GSM7 all septets", 0x00, all[:0x1B], true},
		{"GSM7 escape escape", 0x00, []byte{0x1B, 0x1B}, true},
		{"GSM7 high octet", 0x00, []byte{0x80}, false},
		{"GSM7 dangling escape", 0xF0, []byte{'a', 0x1B}, false},
		{"IA5 all", 0x01, all[:0x80], true},
		{"IA5 high octet", 0x01, []byte{'a', 0xE9}, false},
		{"Latin-1 all", 0x03, all, true},
		{"ISO-8859-5 defined", 0x06, append(all[:0x80:0x80], all[0xA0:]...), true},
		{"ISO-8859-5 C1 control undefined in charmap", 0x06, []byte{'a', 0x85}, false},
		{"UCS-2 empty", 0x08, nil, true},
		{"UCS-2 pair", 0x08, []byte{0xD8, 0x3D, 0xDE, 0x00}, true},
		{"UCS-2 odd length", 0x08, []byte{0x00, 'a', 0x00}, false},
		{"UCS-2 lone high at end", 0x08, []byte{0x00, 'a', 0xD8, 0x3D}, false},
		{"UCS-2 high then BMP", 0x08, []byte{0xD8, 0x3D, 0x00, 'a'}, false},
		{"UCS-2 high then high", 0x18, []byte{0xD8, 0x3D, 0xD8, 0x3D, 0xDE, 0x00}, false},
		{"UCS-2 lone low", 0x08, []byte{0xDE, 0x00, 0x00, 'a'}, false},
		{"binary anything", 0x04, all, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckText(tc.dc, tc.b)
			if tc.ok && err != nil {
				t.Fatalf("CheckText(0x%02X, % X) = %v, want nil", tc.dc, tc.b, err)
			}
			if !tc.ok {
				if !errors.Is(err, ErrInvalidText) {
					t.Fatalf("CheckText(0x%02X, % X) = %v, want ErrInvalidText", tc.dc, tc.b, err)
				}
				if _, err := DecodeText(tc.dc, tc.b); !errors.Is(err, ErrInvalidText) {
					t.Fatalf("DecodeText(0x%02X, % X) = %v, want ErrInvalidText", tc.dc, tc.b, err)
				}
			}
		})
	}
}

// TestCheckTextAgreesWithDecoder checks that whatever CheckText accepts, the
// x/text decoder turns into valid UTF-8 without replacement characters.
func TestCheckTextAgreesWithDecoder(t *testing.T) {
	t.Parallel()
	inputs := [][]byte{
		{0xD8, 0x3D, 0xDE, 0x00, 0x00, 'a'},
		{0xD8, 0x00, 0xDC, 0x00},
		{0xDB, 0xFF, 0xDF, 0xFF},
		{0x00, 0xFF, 0xD7, 0xFF, 0xE0, 0x00},
	}
	for _, b := range inputs {
		if err := CheckText(8, b); err != nil {
			t.Fatalf("CheckText(% X) = %v", b, err)
		}
		s, err := DecodeText(8, b)
		if err != nil || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
			t.Fatalf("DecodeText(% X) = %q, %v", b, s, err)
		}
	}
}

func BenchmarkCheckText(b *testing.B) {
	gsm, _ := EncodeText(0, strings.Repeat("Hello {world} €5 ", 9))
	ucs, _ := EncodeText(8, strings.Repeat("Привет 😀 ", 7))
	cyr, _ := EncodeText(6, strings.Repeat("Привет мир ", 14))
	for _, bc := range []struct {
		name string
		dc   byte
		b    []byte
	}{
		{"GSM7", 0x00, gsm},
		{"IA5", 0x01, []byte(strings.Repeat("hello world ", 13))},
		{"ISO-8859-5", 0x06, cyr},
		{"UCS-2", 0x08, ucs},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.b)))
			for b.Loop() {
				if err := CheckText(bc.dc, bc.b); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeTextGSM7(b *testing.B) {
	wire, _ := EncodeText(0, strings.Repeat("Hello {world} €5 ", 9))
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, err := DecodeText(0, wire); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheckText checks, for each text coding, that CheckText and DecodeText
// agree, that nothing they accept decodes to invalid UTF-8, and that accepted
// payloads survive decode then encode (GSM 7-bit up to its lenient escapes).
func FuzzCheckText(f *testing.F) {
	f.Add([]byte{0xD8, 0x3D, 0xDE, 0x00})
	f.Add([]byte("Hello \x1b\x65 \x1b\x1b"))
	f.Add([]byte{0x1B})
	f.Add([]byte{0xDE, 0x00, 0x85})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dc := range []byte{0x00, 0x01, 0x03, 0x06, 0x08} {
			checkErr := CheckText(dc, b)
			s, err := DecodeText(dc, b)
			if (checkErr == nil) != (err == nil) {
				t.Fatalf("0x%02X % X: CheckText %v, DecodeText %v", dc, b, checkErr, err)
			}
			if err != nil {
				continue
			}
			if !utf8.ValidString(s) {
				t.Fatalf("0x%02X % X: decoded to invalid UTF-8 %q", dc, b, s)
			}
			again, err := EncodeText(dc, s)
			if err != nil {
				t.Fatalf("0x%02X % X: re-encode of %q: %v", dc, b, s, err)
			}
			if dc == 0x00 {
				if s2, err := DecodeText(dc, again); err != nil || s2 != s {
					t.Fatalf("GSM7 % X: %q re-decodes to %q, %v", b, s, s2, err)
				}
			} else if !bytes.Equal(again, b) {
				t.Fatalf("0x%02X % X: %q re-encodes to % X", dc, b, s, again)
			}
		}
	})
}
