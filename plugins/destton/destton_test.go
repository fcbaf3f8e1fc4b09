package destton_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/destton"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule string
		err  string // substring of the error; "" for a valid config
	}{
		{"defaults", "", ""},
		{"no rewrite", "rewrite_unknown = false", ""},
		{"unknown key", "rewrite = false", "rewrite"},
		{"wrong type", `rewrite_unknown = "yes"`, "rewrite_unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ruletest.Load(t, "module = \"dest_ton\"\n"+tc.rule)
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
		ton     byte
		want    byte
		status  pdu.Status
		changed bool
	}{
		{"international", "", 1, 1, pdu.StatusOK, false},
		{"unknown rewritten", "", 0, 1, pdu.StatusOK, true},
		{"unknown rewritten explicitly", "rewrite_unknown = true", 0, 1, pdu.StatusOK, true},
		{"unknown kept", "rewrite_unknown = false", 0, 0, pdu.StatusOK, false},
		{"national refused", "", 2, 2, pdu.StatusInvDstTON, false},
		{"alphanumeric refused", "", 5, 5, pdu.StatusInvDstTON, false},
		{"abbreviated refused without rewrite", "rewrite_unknown = false", 6, 6, pdu.StatusInvDstTON, false},
		{"out of range refused", "", 0xFF, 0xFF, pdu.StatusInvDstTON, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ruletest.MustLoad(t, "module = \"dest_ton\"\n"+tc.rule)
			sm := ruletest.Typical()
			sm.DestTON = tc.ton
			m, _ := ruletest.Received(t, sm)
			if st := ruletest.Status(r.Submit(m)); st != tc.status {
				t.Fatalf("status %v, want %v", st, tc.status)
			}
			if m.SM.DestTON != tc.want || m.Changed() != tc.changed {
				t.Fatalf("dest_addr_ton %d changed %v, want %d %v", m.SM.DestTON, m.Changed(), tc.want, tc.changed)
			}
		})
	}
}

// TestReencoded checks that the frame the mux builds from a changed
// message keeps every other field and TLV.
func TestReencoded(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"dest_ton\"")
	sm := ruletest.Typical()
	sm.DestTON = 0
	sm.DestNPI = 9
	m, _ := ruletest.Received(t, sm)
	if err := r.Submit(m); err != nil {
		t.Fatal(err)
	}
	want := sm
	want.DestTON = 1
	ruletest.RoundTrip(t, m, want)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"dest_ton\"")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 100 {
				sm := ruletest.Typical()
				sm.DestTON = byte(i % 3)
				m, _ := ruletest.Received(t, sm)
				err := r.Submit(m)
				if (i%3 == 2) != (err != nil) || (err == nil && m.SM.DestTON != 1) {
					t.Errorf("ton %d: err %v, now %d", i%3, err, m.SM.DestTON)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSubmit(b *testing.B) {
	r := ruletest.MustLoad(b, "module = \"dest_ton\"")
	m, _ := ruletest.Received(b, ruletest.Typical())
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Submit(m); err != nil {
			b.Fatal(err)
		}
	}
}
