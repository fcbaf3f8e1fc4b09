package encodingcheck_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/encodingcheck"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule string
		err  string // substring of the error; "" for a valid config
	}{
		{"defaults", "", ""},
		{"status", "status = 0x64", ""},
		{"unknown key", "statuss = 0x64", "statuss"},
		{"zero status", "status = 0", "rule.encoding_check: status: must be 0x01-0xFFFFFFFF, got 0"},
		{"status too big", "status = 0x100000000", "status: must be 0x01-0xFFFFFFFF"},
		{"wrong type", `status = "0x45"`, "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ruletest.Load(t, "module = \"encoding_check\"\n"+tc.rule)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

// udh is a concatenation header (IEI 0x00, reference 0xCC, part 1 of 2),
// with its length octet; 0xCC is above 0x7F, so checking it as text fails.
var udh = []byte{0x05, 0x00, 0x03, 0xCC, 0x02, 0x01}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	const fail = pdu.StatusSubmitFail
	ucs2Hi := []byte{0x00, 'H', 0x00, 'i'}
	tests := []struct {
		name    string
		rule    string
		dc      byte
		esm     byte
		sm      []byte
		payload []byte // message_payload TLV; nil for none
		want    pdu.Status
	}{
		{"gsm7", "", 0, 0, []byte("Hello world"), nil, pdu.StatusOK},
		{"gsm7 escape", "", 0, 0, []byte{0x1B, 0x65}, nil, pdu.StatusOK}, // €
		{"gsm7 dangling escape", "", 0, 0, []byte{'a', 0x1B}, nil, fail},
		{"gsm7 octet above 0x7f", "", 0, 0, []byte{'a', 0x80}, nil, fail},
		{"ia5", "", 1, 0, []byte("plain"), nil, pdu.StatusOK},
		{"ia5 latin octet", "", 1, 0, []byte{'c', 0xE9}, nil, fail},
		{"binary", "", 2, 0, []byte{0xFF, 0x00, 0x80}, nil, pdu.StatusOK},
		{"latin1", "", 3, 0, []byte{'c', 0xE9}, nil, pdu.StatusOK},
		{"binary 4", "", 4, 0, []byte{0xFF}, nil, pdu.StatusOK},
		{"cyrillic", "", 6, 0, []byte{0xB0, 0xB1}, nil, pdu.StatusOK},
		{"ucs2", "", 8, 0, ucs2Hi, nil, pdu.StatusOK},
		{"ucs2 odd length", "", 8, 0, []byte{0x00, 'H', 0x00}, nil, fail},
		{"ucs2 lone low surrogate", "", 8, 0, []byte{0xDC, 0x00}, nil, fail},
		{"ucs2 surrogate pair", "", 8, 0, []byte{0xD8, 0x3D, 0xDE, 0x00}, nil, pdu.StatusOK},
		{"ucs2 flash", "", 24, 0, ucs2Hi, nil, pdu.StatusOK},
		{"ucs2 flash odd", "", 24, 0, []byte{0x00}, nil, fail},
		{"gsm7 flash", "", 240, 0, []byte("Flash"), nil, pdu.StatusOK},
		{"gsm7 flash bad", "", 240, 0, []byte{0xFF}, nil, fail},
		{"unsupported 5", "", 5, 0, []byte("x"), nil, fail},
		{"unsupported 0x11", "", 0x11, 0, []byte("x"), nil, fail},
		{"unsupported 0xF4", "", 0xF4, 0, []byte("x"), nil, fail},
		{"empty text", "", 8, 0, nil, nil, pdu.StatusOK},
		{"own status", "status = 0x64", 8, 0, []byte{0x00}, nil, pdu.StatusTempAppErr},
		{"own status for data_coding", "status = 0x64", 5, 0, nil, nil, pdu.StatusTempAppErr},
		{"payload checked", "", 8, 0, nil, []byte{0x00}, fail},
		{"payload good", "", 8, 0, nil, ucs2Hi, pdu.StatusOK},
		{"payload over short_message", "", 8, 0, []byte{0x00}, ucs2Hi, pdu.StatusOK},
		{"udh skipped gsm7", "", 0, pdu.ESMClassUDHI, cat(udh, []byte("part one")), nil, pdu.StatusOK},
		{"udh skipped ucs2", "", 8, pdu.ESMClassUDHI, cat(udh, ucs2Hi), nil, pdu.StatusOK},
		{"udh then bad ucs2", "", 8, pdu.ESMClassUDHI, cat(udh, ucs2Hi[:3]), nil, fail},
		{"udh then bad gsm7", "", 0, pdu.ESMClassUDHI, cat(udh, []byte{0x80}), nil, fail},
		{"udh only", "", 0, pdu.ESMClassUDHI, udh, nil, pdu.StatusOK},
		{"udh in payload", "", 8, pdu.ESMClassUDHI, nil, cat(udh, ucs2Hi), pdu.StatusOK},
		{"udh longer than text", "", 0, pdu.ESMClassUDHI, []byte{0x05, 0x00, 0x03}, nil, fail},
		{"udhi without text", "", 0, pdu.ESMClassUDHI, nil, nil, fail},
		{"udh not flagged", "", 0, 0, cat(udh, []byte("x")), nil, fail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ruletest.MustLoad(t, "module = \"encoding_check\"\n"+tc.rule)
			sm := ruletest.Typical()
			sm.DataCoding, sm.ESMClass, sm.ShortMessage = tc.dc, tc.esm, tc.sm
			if tc.payload != nil {
				sm.TLVs = pdu.AppendTLV(sm.TLVs, pdu.TagMessagePayload, tc.payload)
			}
			m, _ := ruletest.Received(t, sm)
			if st := ruletest.Status(r.Submit(m)); st != tc.want {
				t.Fatalf("status %v, want %v", st, tc.want)
			}
			if m.Changed() {
				t.Fatal("encoding_check changed the message")
			}
		})
	}
}

// TestReencoded checks that a message the rule passed re-encodes as it
// came: the rule only reads.
func TestReencoded(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"encoding_check\"")
	sm := ruletest.Typical()
	sm.DataCoding, sm.ESMClass, sm.ShortMessage = 8, pdu.ESMClassUDHI, cat(udh, []byte{0x00, 'H'})
	m, _ := ruletest.Received(t, sm)
	if err := r.Submit(m); err != nil {
		t.Fatal(err)
	}
	ruletest.RoundTrip(t, m, sm)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"encoding_check\"")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 100 {
				sm := ruletest.Typical()
				sm.DataCoding = byte(i % 10)
				m, _ := ruletest.Received(t, sm)
				_ = r.Submit(m)
			}
		})
	}
	wg.Wait()
}

func BenchmarkSubmit(b *testing.B) {
	for _, bc := range []struct {
		name string
		dc   byte
		esm  byte
		text []byte
	}{
		{"gsm7", 0, 0, []byte("Your code is 123456. It expires in 10 minutes.")},
		{"ucs2_udh", 8, pdu.ESMClassUDHI, cat(udh, []byte{0x04, 0x1F, 0x04, 0x40, 0x04, 0x38, 0x04, 0x32})},
		{"refused", 5, 0, []byte("x")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := ruletest.MustLoad(b, "module = \"encoding_check\"")
			sm := ruletest.Typical()
			sm.DataCoding, sm.ESMClass, sm.ShortMessage = bc.dc, bc.esm, bc.text
			m, _ := ruletest.Received(b, sm)
			b.ReportAllocs()
			for b.Loop() {
				_ = r.Submit(m)
			}
		})
	}
}
