package upstream

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestStatusCounts(t *testing.T) {
	t.Parallel()
	var c statusCounts
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 1000 {
				c.add(pdu.Status(i % (statusSlots + 8))) // 8 more than the table holds
			}
		})
	}
	wg.Wait()
	got, other := c.snapshot()
	var sum uint64
	for _, n := range got {
		sum += n
	}
	if len(got) != statusSlots || sum+other != 4000 || other == 0 {
		t.Fatalf("%d statuses, %d counted, %d other; want %d statuses and 4000 in all", len(got), sum, other, statusSlots)
	}
	var one statusCounts
	one.add(pdu.StatusOK)
	one.add(pdu.StatusThrottled)
	one.add(pdu.StatusThrottled)
	if got, other := one.snapshot(); fmt.Sprint(got) != fmt.Sprint(map[pdu.Status]uint64{pdu.StatusOK: 1, pdu.StatusThrottled: 2}) || other != 0 {
		t.Fatalf("snapshot: %v other %d", got, other)
	}
}

func TestFailureKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"credentials", &BindError{Status: pdu.StatusInvPassword}, "bind_refused"},
		{"bind", fmt.Errorf("x: %w", &BindError{Status: pdu.StatusThrottled}), "bind_refused"},
		{"dial", &dialError{errors.New("connection refused")}, "connect_failed"},
		{"unbound", errPeerUnbound, "unbound"},
		{"lost", errors.New("EOF"), "dropped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FailureKind(tc.err); got != tc.want {
				t.Fatalf("FailureKind(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// A slot whose bind is refused is down since the refusal, with the
// refusal as its last failure; once bound, it is bound since then and
// counts the provider's answers by status.
func TestSessionLastFailureAndSince(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "right"))
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addr()), SystemID: "acct", Password: "wrong-pw", SessionsPerHost: 1, ReconnectDelay: time.Hour}, nil)
	s := p.Sessions()[0]
	eventually.That(t, waitBound, "refused bind", func() bool { return s.LastFailure().Err != nil && s.State() == StateDown })
	f := s.LastFailure()
	var be *BindError
	if !errors.As(f.Err, &be) || be.Status != pdu.StatusInvPassword || FailureKind(f.Err) != "bind_refused" {
		t.Fatalf("last failure %v (%s), want the bind refused with ESME_RINVPASWD", f.Err, FailureKind(f.Err))
	}
	since := s.Since()
	if since.IsZero() || since.After(f.At) || time.Since(since) > waitBound {
		t.Fatalf("down since %v, failure at %v", since, f.At)
	}
	// Retrying does not move Since: connecting, binding and down are one.
	s.setState(StateConnecting)
	s.setState(StateBinding)
	s.setState(StateDown)
	if !s.Since().Equal(since) {
		t.Fatalf("since moved from %v to %v on a retry", since, s.Since())
	}

	ok := simtest.NewServer(t, simtest.Account("acct", "secret"))
	q := newTestPool(t, Config{Hosts: hostsOf(ok.Addr()), SystemID: "acct", Password: "secret", SessionsPerHost: 1}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return q.Bound() == 1 })
	qs := q.Sessions()[0]
	if qs.LastFailure().Err != nil || qs.Since().IsZero() {
		t.Fatalf("bound session: last failure %v, since %v", qs.LastFailure().Err, qs.Since())
	}
	r := newRecorder(1)
	if err := qs.Submit(submitFrame(t, "hi", false), r, 1); err != nil {
		t.Fatal(err)
	}
	eventually.Recv(t, r.ch, waitBound, "SubmitDone")
	if got := qs.Stats().Responses; got[pdu.StatusOK] != 1 || len(got) != 1 {
		t.Fatalf("Responses %v, want one ESME_ROK", got)
	}
}
