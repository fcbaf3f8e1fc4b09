// Package eventually holds the bounded waits of this module's tests:
// That checks a condition (a count, a state read under its own lock)
// until it holds or a bounded time has passed, NoError retries an
// attempt (a bind, a dial) until it succeeds, and Recv receives from a
// channel within a bound; all fail the test with what they waited for,
// NoError with the last attempt's error.
//
// Tests wait on channels where they can (Recv); they use That where the
// thing waited for is a counter or a state of other goroutines or of
// another process, never a bare time.Sleep (nats-server's checkFor).
package eventually

import (
	"testing"
	"time"
)

// Polling starts at minPoll and doubles up to maxPoll, so that a
// condition that holds after a few scheduler turns is seen at once and
// an expensive one (an HTTP request, a Redis read) is not spun on.
const (
	minPoll = time.Millisecond
	maxPoll = 50 * time.Millisecond
)

// That calls cond until it returns true; if timeout passes first, it
// fails t with "<what>: not within <timeout>". The condition is checked
// once more at the deadline, so a slow poll never fails a test whose
// condition holds by then. It must be called from the test's goroutine.
func That(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := minPoll
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: not within %v", what, timeout)
			return // t.Fatalf returns only in a TB that does not stop the goroutine
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, maxPoll)
	}
}

// NoError calls try until it returns nil; if timeout passes first, it
// fails t with "<what>: not within <timeout>: <try's last error>". It
// polls as That does, and must be called from the test's goroutine.
func NoError(t testing.TB, timeout time.Duration, what string, try func() error) {
	t.Helper()
	var last error
	deadline := time.Now().Add(timeout)
	pause := minPoll
	for {
		if last = try(); last == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: not within %v: %v", what, timeout, last)
			return // t.Fatalf returns only in a TB that does not stop the goroutine
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, maxPoll)
	}
}

// Recv receives a value from ch; if timeout passes first, it fails t
// with "no <what> within <timeout>".
func Recv[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within %v", what, timeout)
		var zero T
		return zero // t.Fatalf returns only in a TB that does not stop the goroutine
	}
}
