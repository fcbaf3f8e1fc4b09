package priority_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	_ "github.com/smpp-mux/smpp-mux/plugins/priority"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule string
		err  string // substring of the error; "" for a valid config
	}{
		{"max", "max = 1", ""},
		{"set", "set = 0", ""},
		{"both", "max = 2\nset = 1", ""},
		{"unknown key", "max = 1\nmin = 0", "min"},
		{"neither", "", "rule.priority: max or set is needed"},
		{"max too high", "max = 5", "rule.priority: max: must be 0-3, got 5"},
		{"set negative", "set = -1", "rule.priority: set: must be 0-3, got -1"},
		{"set above max", "max = 1\nset = 2", "rule.priority: set: 2 is above max 1"},
		{"wrong type", `max = "1"`, "max"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ruletest.Load(t, "module = \"priority\"\n"+tc.rule)
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
		in      byte
		want    byte
		changed bool
	}{
		{"capped", "max = 1", 3, 1, true},
		{"under the cap", "max = 1", 0, 0, false},
		{"at the cap", "max = 1", 1, 1, false},
		{"cap zero", "max = 0", 2, 0, true},
		{"set raises", "set = 2", 0, 2, true},
		{"set lowers", "set = 2", 3, 2, true},
		{"set already", "set = 2", 2, 2, false},
		{"set wins over max", "max = 3\nset = 1", 3, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ruletest.MustLoad(t, "module = \"priority\"\n"+tc.rule)
			sm := ruletest.Typical()
			sm.PriorityFlag = tc.in
			m, _ := ruletest.Received(t, sm)
			if err := r.Submit(m); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if m.SM.PriorityFlag != tc.want || m.Changed() != tc.changed {
				t.Fatalf("priority_flag %d changed %v, want %d %v", m.SM.PriorityFlag, m.Changed(), tc.want, tc.changed)
			}
		})
	}
}

// TestReencoded checks that the frame the mux builds from a changed
// message keeps every other field and TLV.
func TestReencoded(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"priority\"\nmax = 1")
	sm := ruletest.Typical()
	sm.PriorityFlag = 3
	m, _ := ruletest.Received(t, sm)
	if err := r.Submit(m); err != nil {
		t.Fatal(err)
	}
	want := sm
	want.PriorityFlag = 1
	ruletest.RoundTrip(t, m, want)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"priority\"\nmax = 1")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 100 {
				sm := ruletest.Typical()
				sm.PriorityFlag = byte(i % 4)
				m, _ := ruletest.Received(t, sm)
				if err := r.Submit(m); err != nil || m.SM.PriorityFlag > 1 {
					t.Errorf("priority %d err %v", m.SM.PriorityFlag, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSubmit(b *testing.B) {
	r := ruletest.MustLoad(b, "module = \"priority\"\nmax = 1")
	m, _ := ruletest.Received(b, ruletest.Typical())
	orig := m.SM
	b.ReportAllocs()
	for b.Loop() {
		m.SM = orig
		if err := r.Submit(m); err != nil {
			b.Fatal(err)
		}
	}
}
