package eventually

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records Fatalf instead of ending the
// goroutine, so that a failing That can be observed.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestThatHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	r := &recorder{TB: t}
	That(r, 5*time.Second, "three increments", func() bool { return n.Load() == 3 })
	if r.failed != "" {
		t.Fatalf("failed: %s", r.failed)
	}
}

func TestThatFailsWithWhat(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	That(r, 20*time.Millisecond, "the impossible", func() bool { calls++; return false })
	if !strings.HasPrefix(r.failed, "the impossible: not within 20ms") {
		t.Fatalf("failure message %q", r.failed)
	}
	if calls < 2 {
		t.Fatalf("cond called %d times, want it polled", calls)
	}
}

func TestNoErrorRetries(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	NoError(r, 5*time.Second, "the third try", func() error {
		if calls++; calls < 3 {
			return fmt.Errorf("try %d refused", calls)
		}
		return nil
	})
	if r.failed != "" || calls != 3 {
		t.Fatalf("failed %q after %d calls, want success at the third", r.failed, calls)
	}
}

func TestNoErrorFailsWithLastError(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	NoError(r, 20*time.Millisecond, "the dial", func() error { calls++; return fmt.Errorf("refused %d", calls) })
	if want := fmt.Sprintf("the dial: not within 20ms: refused %d", calls); r.failed != want || calls < 2 {
		t.Fatalf("failure message %q after %d calls, want %q", r.failed, calls, want)
	}
}

func TestRecv(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	r := &recorder{TB: t}
	if v := Recv(r, ch, time.Second, "a seven"); v != 7 || r.failed != "" {
		t.Fatalf("Recv = %d, failed %q", v, r.failed)
	}
	Recv(r, ch, 10*time.Millisecond, "eight")
	if r.failed != "no eight within 10ms" {
		t.Fatalf("failure message %q", r.failed)
	}
}
