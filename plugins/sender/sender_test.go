package sender_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/sender"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule string
		err  string // substring of the error; "" for a valid config
	}{
		{"allow", `allow = ["Shop", "4512345678"]`, ""},
		{"force", `force = "Shop"`, ""},
		{"both", "allow = [\"Shop\"]\nforce = \"Shop2\"", ""},
		{"allow empty sender", `allow = ["", "Shop"]`, ""},
		{"unknown key", "force = \"Shop\"\nforced = \"x\"", "forced"},
		{"neither", "", "rule.sender: allow or force is needed"},
		{"empty allow", "allow = []", "rule.sender: allow or force is needed"},
		{"empty force", `force = ""`, "rule.sender: force: must not be empty"},
		{"force too long", `force = "123456789012345678901"`, "rule.sender: force: at most 20 octets, got 21"},
		{"allow too long", `allow = ["Shop", "123456789012345678901"]`, "rule.sender: allow[1]: at most 20 octets, got 21"},
		{"force with NUL", `force = "a\u0000"`, "rule.sender: force: must not contain NUL"},
		{"wrong type", `allow = "Shop"`, "allow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ruletest.Load(t, "module = \"sender\"\n"+tc.rule)
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
		src     string
		want    string
		status  pdu.Status
		changed bool
	}{
		{"allowed", `allow = ["Shop", "4512345678"]`, "Shop", "Shop", pdu.StatusOK, false},
		{"allowed number", `allow = ["Shop", "4512345678"]`, "4512345678", "4512345678", pdu.StatusOK, false},
		{"refused", `allow = ["Shop"]`, "Bank", "Bank", pdu.StatusInvSrcAddr, false},
		{"case matters", `allow = ["Shop"]`, "SHOP", "SHOP", pdu.StatusInvSrcAddr, false},
		{"empty refused", `allow = ["Shop"]`, "", "", pdu.StatusInvSrcAddr, false},
		{"empty allowed", `allow = ["", "Shop"]`, "", "", pdu.StatusOK, false},
		{"forced", `force = "Shop"`, "Bank", "Shop", pdu.StatusOK, true},
		{"forced over empty", `force = "Shop"`, "", "Shop", pdu.StatusOK, true},
		{"force already", `force = "Shop"`, "Shop", "Shop", pdu.StatusOK, false},
		{"allowed then forced", "allow = [\"Shop\"]\nforce = \"ShopDK\"", "Shop", "ShopDK", pdu.StatusOK, true},
		{"refused before force", "allow = [\"Shop\"]\nforce = \"ShopDK\"", "Bank", "Bank", pdu.StatusInvSrcAddr, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ruletest.MustLoad(t, "module = \"sender\"\n"+tc.rule)
			sm := ruletest.Typical()
			sm.SourceAddr = []byte(tc.src)
			m, _ := ruletest.Received(t, sm)
			if st := ruletest.Status(r.Submit(m)); st != tc.status {
				t.Fatalf("status %v, want %v", st, tc.status)
			}
			if string(m.SM.SourceAddr) != tc.want || m.Changed() != tc.changed {
				t.Fatalf("source_addr %q changed %v, want %q %v", m.SM.SourceAddr, m.Changed(), tc.want, tc.changed)
			}
		})
	}
}

// TestReencoded checks that the frame the mux builds from a changed
// message keeps every other field and TLV, and that the received frame is
// not written into.
func TestReencoded(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"sender\"\nforce = \"ShopDenmark\"")
	sm := ruletest.Typical()
	m, frame := ruletest.Received(t, sm)
	before := string(frame)
	if err := r.Submit(m); err != nil {
		t.Fatal(err)
	}
	if string(frame) != before {
		t.Fatal("the rule wrote into the received frame")
	}
	want := sm
	want.SourceAddr = []byte("ShopDenmark")
	ruletest.RoundTrip(t, m, want)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"sender\"\nallow = [\"Shop\", \"Bank\"]\nforce = \"Shop\"")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 100 {
				sm := ruletest.Typical()
				sm.SourceAddr = []byte([]string{"Shop", "Bank", "Evil"}[i%3])
				m, _ := ruletest.Received(t, sm)
				err := r.Submit(m)
				if (i%3 == 2) != (err != nil) || (err == nil && string(m.SM.SourceAddr) != "Shop") {
					t.Errorf("source %d: err %v, now %q", i%3, err, m.SM.SourceAddr)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSubmit(b *testing.B) {
	r := ruletest.MustLoad(b, "module = \"sender\"\nallow = [\"Shop\", \"Bank\", \"4512345678\"]")
	m, _ := ruletest.Received(b, ruletest.Typical())
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Submit(m); err != nil {
			b.Fatal(err)
		}
	}
}
