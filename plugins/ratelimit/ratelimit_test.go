package ratelimit_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/internal/ruletest"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/ratelimit"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rule      string
		err       string // substring of the error; "" for a valid config
		wantBurst int
	}{
		{"integer rate", "rate = 50", "", 50},
		{"fraction", "rate = 0.5", "", 1},
		{"fraction burst rounds up", "rate = 2.5", "", 3},
		{"burst", "rate = 50\nburst = 10", "", 10},
		{"unknown key", "rate = 50\nperiod = \"1s\"", "period", 0},
		{"missing rate", "burst = 5", "rule.rate_limit: rate: must be above 0", 0},
		{"zero rate", "rate = 0", "rate: must be above 0", 0},
		{"negative rate", "rate = -1", "rate: must be above 0", 0},
		{"nan rate", "rate = nan", "rate: must be above 0", 0},
		{"infinite rate", "rate = inf", "rate: must be above 0", 0},
		{"zero burst is the default", "rate = 4\nburst = 0", "", 4},
		{"negative burst", "rate = 5\nburst = -1", "rule.rate_limit: burst: must be at least 1, got -1", 0},
		{"wrong type", `rate = "fast"`, "rate", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ruletest.Load(t, "module = \"rate_limit\"\n"+tc.rule)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			case tc.err == "" && r.(*ratelimit.RateLimit).Burst != tc.wantBurst:
				t.Fatalf("burst %d, want %d", r.(*ratelimit.RateLimit).Burst, tc.wantBurst)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rule   string
		n      int // submits back to back
		passed int // of which pass
	}{
		{"within burst", "rate = 0.001\nburst = 5", 5, 5},
		{"over burst", "rate = 0.001\nburst = 5", 8, 5},
		{"default burst", "rate = 3", 10, 3},
		{"huge rate", "rate = 1e9", 1000, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ruletest.MustLoad(t, "module = \"rate_limit\"\n"+tc.rule)
			passed := 0
			for range tc.n {
				m, _ := ruletest.Received(t, ruletest.Typical())
				err := r.Submit(m)
				switch st := ruletest.Status(err); st {
				case pdu.StatusOK:
					passed++
				case pdu.StatusThrottled:
				default:
					t.Fatalf("status %v, want 0 or ESME_RTHROTTLED", st)
				}
				if m.Changed() {
					t.Fatal("rate_limit changed the message")
				}
			}
			// A slow machine may refill a token of "rate = 3" meanwhile.
			if passed < tc.passed || passed > tc.passed+1 || (tc.passed == tc.n && passed != tc.n) {
				t.Fatalf("%d of %d passed, want %d", passed, tc.n, tc.passed)
			}
		})
	}
}

// TestSharedOverSessions checks that a client's sessions, calling the rule
// concurrently, draw from one bucket.
func TestSharedOverSessions(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"rate_limit\"\nrate = 0.001\nburst = 10")
	var passed, throttled atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				m, _ := ruletest.Received(t, ruletest.Typical())
				if ruletest.Status(r.Submit(m)) == pdu.StatusThrottled {
					throttled.Add(1)
				} else {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if passed.Load() != 10 || throttled.Load() != 30 {
		t.Fatalf("passed %d throttled %d, want 10 and 30", passed.Load(), throttled.Load())
	}
}

// TestInstancesIndependent checks that two clients' rules do not share a bucket.
func TestInstancesIndependent(t *testing.T) {
	t.Parallel()
	a := ruletest.MustLoad(t, "module = \"rate_limit\"\nrate = 0.001\nburst = 1")
	b := ruletest.MustLoad(t, "module = \"rate_limit\"\nrate = 0.001\nburst = 1")
	m, _ := ruletest.Received(t, ruletest.Typical())
	if a.Submit(m) != nil || b.Submit(m) != nil {
		t.Fatal("first submit of each client throttled")
	}
	if ruletest.Status(a.Submit(m)) != pdu.StatusThrottled {
		t.Fatal("second submit not throttled")
	}
}

// TestReencoded checks that a passed message, were another rule to change
// it, re-encodes unchanged: rate_limit touches nothing.
func TestReencoded(t *testing.T) {
	t.Parallel()
	r := ruletest.MustLoad(t, "module = \"rate_limit\"\nrate = 10")
	m, _ := ruletest.Received(t, ruletest.Typical())
	if err := r.Submit(m); err != nil {
		t.Fatal(err)
	}
	ruletest.RoundTrip(t, m, ruletest.Typical())
}

func BenchmarkSubmit(b *testing.B) {
	for _, bc := range []struct{ name, rule string }{
		{"pass", "rate = 1e9"},
		{"throttled", "rate = 0.001\nburst = 1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := ruletest.MustLoad(b, "module = \"rate_limit\"\n"+bc.rule)
			m, _ := ruletest.Received(b, ruletest.Typical())
			b.ReportAllocs()
			for b.Loop() {
				_ = r.Submit(m)
			}
		})
	}
}
