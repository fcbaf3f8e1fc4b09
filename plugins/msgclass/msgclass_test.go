package msgclass_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/msgclass"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule string
		err  string // substring of the error; "" for a valid config
	}{
		{"minimal", `module = "message_class"` + "\nclass = \"premium\"", ""},
		{"keep client", `module = "message_class"` + "\nclass = \"premium\"\nkeep_client = true", ""},
		{"unknown key", `module = "message_class"` + "\nclass = \"premium\"\ncolour = \"red\"", "colour"},
		{"missing class", `module = "message_class"`, "rule.message_class: class: missing"},
		{"class too long", `module = "message_class"` + "\nclass = \"" + strings.Repeat("x", 65) + "\"", "class: at most 64 octets, got 65"},
		{"class with NUL", `module = "message_class"` + "\nclass = \"a\\u0000b\"", "class: must not contain NUL"},
		{"wrong type", `module = "message_class"` + "\nclass = 7", "class"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ruletest.Load(t, tc.rule)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rule    string
		client  string // message_class the client set; "" for none
		want    string
		changed bool
	}{
		{"added", `class = "premium"`, "", "premium", true},
		{"replaced", `class = "premium"`, "standard", "premium", true},
		{"already set", `class = "premium"`, "premium", "premium", false},
		{"kept", "class = \"premium\"\nkeep_client = true", "standard", "standard", false},
		{"keep_client adds when absent", "class = \"premium\"\nkeep_client = true", "", "premium", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ruletest.MustLoad(t, "module = \"message_class\"\n"+tc.rule)
			sm := ruletest.Typical()
			if tc.client != "" {
				sm.TLVs = pdu.AppendTLV(sm.TLVs, pdu.TagMessageClass, []byte(tc.client))
			}
			m, _ := ruletest.Received(t, sm)
			if err := r.Submit(m); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if v, ok := m.SM.TLVs.Lookup(pdu.TagMessageClass); !ok || string(v) != tc.want {
				t.Fatalf("message_class %q (present %v), want %q", v, ok, tc.want)
			}
			if m.Changed() != tc.changed {
				t.Fatalf("Changed() = %v, want %v", m.Changed(), tc.changed)
			}
		})
	}
}

// TestReencoded checks that the frame the mux builds from a changed
// message keeps every other field and TLV, in wire order.
func TestReencoded(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"message_class\"\nclass = \"premium\"")
	sm := ruletest.Typical()
	sm.TLVs = pdu.AppendTLV(sm.TLVs, pdu.TagMessageClass, []byte("standard"))
	sm.TLVs = pdu.AppendTLV(sm.TLVs, 0x1401, []byte{1})
	m, _ := ruletest.Received(t, sm)
	if err := r.Submit(m); err != nil {
		t.Fatal(err)
	}
	want := sm
	want.TLVs = sm.TLVs.Set(nil, pdu.TagMessageClass, []byte("premium"))
	ruletest.RoundTrip(t, m, want)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"message_class\"\nclass = \"premium\"")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				m, _ := ruletest.Received(t, ruletest.Typical())
				if err := r.Submit(m); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSubmit(b *testing.B) {
	r := ruletest.MustLoad(b, "module = \"message_class\"\nclass = \"premium\"")
	sm := ruletest.Typical()
	sm.TLVs = pdu.AppendTLV(sm.TLVs, pdu.TagMessageClass, []byte("premium"))
	m, _ := ruletest.Received(b, sm)
	orig := m.SM
	b.ReportAllocs()
	for b.Loop() {
		m.SM = orig
		if err := r.Submit(m); err != nil {
			b.Fatal(err)
		}
	}
}
