package upstream

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func TestResponseTimeoutAndLateResponse(t *testing.T) {
	t.Parallel()
	var silent atomic.Bool
	silent.Store(true)
	f := newFake(t, "127.0.0.1:0", func(_ *fakeConn, frame []byte) bool {
		return silent.Load() && pdu.ID(frame) == pdu.CmdSubmitSM
	})
	p := newTestPool(t, Config{Hosts: hostsOf(f.addr), SessionsPerHost: 1, ResponseTimeout: 200 * time.Millisecond, EnquireLink: time.Second}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	s, r, frame := p.Sessions()[0], newRecorder(10), submitFrame(t, "hi", false)
	if err := s.Submit(frame, r, 1); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	first := f.next(pdu.CmdSubmitSM)
	res := eventually.Recv(t, r.ch, waitBound, "SubmitDone")
	if !errors.Is(res.err, ErrTimeout) || res.resp != nil || res.ref != 1 || res.reqSeq != first.h.Seq {
		t.Fatalf("got ref %d seq %d err %v, want ErrTimeout for seq %d", res.ref, res.reqSeq, res.err, first.h.Seq)
	}
	if s.Pending() != 0 {
		t.Errorf("pending %d after the timeout", s.Pending())
	}
	// The late answer is ignored; the next submit is answered normally,
	// after it on the same connection.
	first.fc.send(pdu.Append(nil, pdu.CmdSubmitSMResp, pdu.StatusOK, first.h.Seq, &pdu.SMResp{MessageID: []byte("late")}))
	silent.Store(false)
	if err := s.Submit(frame, r, 2); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if res := eventually.Recv(t, r.ch, waitBound, "SubmitDone"); res.ref != 2 || res.err != nil {
		t.Fatalf("got ref %d err %v, want ref 2 answered", res.ref, res.err)
	}
	select {
	case res := <-r.ch:
		t.Fatalf("extra SubmitDone for ref %d", res.ref)
	default:
	}
}

func TestGenericNackAndUnknownRequests(t *testing.T) {
	t.Parallel()
	f := newFake(t, "127.0.0.1:0", func(fc *fakeConn, frame []byte) bool {
		if pdu.ID(frame) != pdu.CmdSubmitSM {
			return false
		}
		fc.send(pdu.AppendHeaderOnly(nil, pdu.CmdGenericNack, pdu.StatusThrottled, pdu.Seq(frame)))
		return true
	})
	p := newTestPool(t, Config{Hosts: hostsOf(f.addr), SessionsPerHost: 1}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	s, r := p.Sessions()[0], newRecorder(10)
	if err := s.Submit(submitFrame(t, "hi", false), r, 5); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	res := eventually.Recv(t, r.ch, waitBound, "SubmitDone")
	if res.err != nil || pdu.ID(res.resp) != pdu.CmdSubmitSMResp || res.status() != pdu.StatusThrottled || pdu.Seq(res.resp) != res.reqSeq {
		t.Fatalf("got %x err %v, want a submit_sm_resp ESME_RTHROTTLED", res.resp, res.err)
	}
	if !res.throttled {
		t.Errorf("generic_nack ESME_RTHROTTLED did not pause the session")
	}
	fc := f.next(pdu.CmdSubmitSM).fc
	cases := []struct {
		name string
		id   pdu.CommandID
		want pdu.CommandID
	}{
		{"unknown command", 0x00000099, pdu.CmdGenericNack},
		{"query_sm", pdu.CmdQuerySM, pdu.CmdQuerySMResp},
		{"alert_notification", pdu.CmdAlertNotification, pdu.CmdGenericNack},
	}
	for i, tc := range cases {
		seq := uint32(100 + i)
		fc.send(pdu.AppendHeaderOnly(nil, tc.id, pdu.StatusOK, seq))
		got := f.next(tc.want)
		if got.h.Seq != seq || got.h.Status != pdu.StatusInvCmdID {
			t.Errorf("%s: answered %v seq %d status %v, want seq %d ESME_RINVCMDID", tc.name, got.h.ID, got.h.Seq, got.h.Status, seq)
		}
	}
	if p.Bound() != 1 || s.Gen() != 1 {
		t.Errorf("session replaced (bound %d, gen %d): unknown requests must not end it", p.Bound(), s.Gen())
	}
}

func TestProviderUnbindReconnects(t *testing.T) {
	t.Parallel()
	f := newFake(t, "127.0.0.1:0", nil)
	p := newTestPool(t, Config{Hosts: hostsOf(f.addr), SessionsPerHost: 1}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	s := p.Sessions()[0]
	gen := s.Gen()
	fc := f.next(pdu.CmdBindTransceiver).fc
	fc.send(pdu.AppendHeaderOnly(nil, pdu.CmdUnbind, pdu.StatusOK, 42))
	if got := f.next(pdu.CmdUnbindResp); got.h.Seq != 42 || got.h.Status != pdu.StatusOK {
		t.Fatalf("unbind answered seq %d status %v", got.h.Seq, got.h.Status)
	}
	eventually.That(t, waitBound, "rebound", func() bool { return s.State() == StateBound && s.Gen() != gen })
	if n := f.accepts.Load(); n != 2 {
		t.Errorf("%d connections accepted, want 2", n)
	}
}

func TestHalfDeadSessionReplacedWithinLimit(t *testing.T) {
	t.Parallel()
	// Binds are answered, then nothing: not even enquire_link.
	f := newFake(t, "127.0.0.1:0", func(_ *fakeConn, frame []byte) bool { return !pdu.ID(frame).IsBind() })
	p := newTestPool(t, Config{Hosts: hostsOf(f.addr), SessionsPerHost: 2, EnquireLink: 60 * time.Millisecond,
		ResponseTimeout: 100 * time.Millisecond, ReconnectDelay: 200 * time.Millisecond}, nil)
	eventually.That(t, waitBound, "dead sessions replaced", func() bool { return f.accepts.Load() >= 6 })
	if m := p.conns.max.Load(); m > 2 {
		t.Errorf("%d connections open at once, want at most 2", m)
	}
}

func TestStoppedListenerBacksOff(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens: every dial is refused at once
	const delay = 500 * time.Millisecond
	p := newTestPool(t, Config{Hosts: hostsOf(addr), SessionsPerHost: 2, ReconnectDelay: delay}, nil)
	start := time.Now()
	eventually.That(t, waitBound, "four dials per slot", func() bool { return p.conns.dials.Load() >= 8 })
	elapsed := time.Since(start)
	// Full jitter makes single delays short, never all of them: hammering
	// would dial thousands of times in this while.
	if d := p.conns.dials.Load(); float64(d) > 2*(4+elapsed.Seconds()*20) {
		t.Errorf("%d dials in %v: no back-off", d, elapsed)
	}
	for _, s := range p.Sessions() {
		if st := s.State(); st != StateDown && st != StateConnecting {
			t.Errorf("session %d: %v, want down", s.Index(), st)
		}
	}
	f := newFake(t, addr, nil)
	eventually.That(t, delay+waitBound, "bound once the host is back", func() bool { return p.Bound() == 2 })
	if n := f.accepts.Load(); n != 2 {
		t.Errorf("%d connections accepted, want exactly 2", n)
	}
	if m := p.conns.max.Load(); m > 2 {
		t.Errorf("%d connections open at once, want at most 2", m)
	}
}

func TestShutdownContextEnds(t *testing.T) {
	t.Parallel()
	f := newFake(t, "127.0.0.1:0", silentSubmits)
	p := newTestPool(t, Config{Hosts: hostsOf(f.addr), SessionsPerHost: 1}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	r := newRecorder(1)
	if err := p.Sessions()[0].Submit(submitFrame(t, "hi", false), r, 3); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if res := eventually.Recv(t, r.ch, waitBound, "SubmitDone"); !errors.Is(res.err, ErrSessionLost) {
		t.Errorf("open submit got %v, want ErrSessionLost", res.err)
	}
	if s := p.Sessions()[0]; s.State() != StateClosed {
		t.Errorf("state %v after Shutdown", s.State())
	}
}

func TestSubmitRefusals(t *testing.T) {
	t.Parallel()
	f := newFake(t, "127.0.0.1:0", nil)
	p := newTestPool(t, Config{Hosts: hostsOf(f.addr), SessionsPerHost: 1}, nil)
	s, r := p.Sessions()[0], newRecorder(1)
	if err := s.Submit([]byte{0, 0, 0, 16}, r, 1); !errors.Is(err, ErrBadFrame) {
		t.Errorf("short frame: %v", err)
	}
	if err := s.Submit(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLink, 0, 1), r, 1); !errors.Is(err, ErrBadFrame) {
		t.Errorf("not a submit_sm: %v", err)
	}
	_ = p.Close()
	if err := s.Submit(submitFrame(t, "x", false), r, 1); !errors.Is(err, ErrClosing) {
		t.Errorf("after Close: %v", err)
	}
}

func TestFlappingHostKeepsBackingOff(t *testing.T) {
	t.Parallel()
	// Every bind is accepted, then the connection is dropped at once.
	f := newFake(t, "127.0.0.1:0", func(fc *fakeConn, frame []byte) bool {
		if !pdu.ID(frame).IsBind() {
			return false
		}
		fc.send(pdu.Append(nil, pdu.ID(frame).Resp(), pdu.StatusOK, pdu.Seq(frame), &pdu.BindResp{SystemID: []byte("fake")}))
		_ = fc.nc.Close()
		return true
	})
	p := newTestPool(t, Config{Hosts: hostsOf(f.addr), SessionsPerHost: 1, ReconnectDelay: 300 * time.Millisecond}, nil)
	// Short-lived binds do not reset the back-off: the attempt count keeps
	// growing (Warn is logged at attempts 1, 2, 4, ...).
	eventually.That(t, waitBound, "a fourth attempt without reset", func() bool {
		for _, e := range p.logs.FilterMessage("upstream connection down; reconnecting").All() {
			if e.ContextMap()["attempt"] == int64(4) {
				return true
			}
		}
		return false
	})
	if m := p.conns.max.Load(); m > 1 {
		t.Errorf("%d connections open at once, want 1", m)
	}
}

func TestSessionStats(t *testing.T) {
	var s Session
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, time.Hour} {
		s.lat.observe(d)
	}
	s.binds.Add(2)
	st := s.Stats()
	// cumulative: <=1ms: 1, <=2ms: 1, <=5ms: 2, ..., +Inf: 3
	if st.Latency[0] != 1 || st.Latency[1] != 1 || st.Latency[2] != 2 || st.Latency[len(st.Latency)-2] != 2 || st.Latency[len(st.Latency)-1] != 3 {
		t.Fatalf("buckets %v", st.Latency)
	}
	if st.Binds != 2 || st.LatencySum != time.Hour+3500*time.Microsecond {
		t.Fatalf("stats %+v", st)
	}
	if len(st.Latency) != len(LatencyBuckets)+1 {
		t.Fatalf("%d buckets for %d bounds", len(st.Latency), len(LatencyBuckets))
	}
}
