package upstream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestPoolBindsEveryHost(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2))
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addrs()...), SessionsPerHost: 3}, nil)
	eventually.That(t, waitBound, "six sessions bound", func() bool { return p.Bound() == 6 })
	if got := srv.Stats().SessionsBound; got != 6 {
		t.Errorf("simulator sees %d sessions, want 6", got)
	}
	for i, s := range p.Sessions() {
		want := srv.Addrs()[i/3]
		if s.Host() != want || s.Index() != i || s.State() != StateBound || s.Free() != 50 || s.Gen() == 0 {
			t.Errorf("session %d: host %s index %d state %v free %d gen %d; want host %s, bound, free 50",
				i, s.Host(), s.Index(), s.State(), s.Free(), s.Gen(), want)
		}
	}
	if got := countLogs(p.logs, zapcore.InfoLevel, "bound"); got != 6 {
		t.Errorf("%d bound logs, want 6", got)
	}
	if m := p.conns.max.Load(); m > 6 {
		t.Errorf("%d connections open at once, want at most 6", m)
	}
}

// submitWait submits frame on any available session, waiting on Room when
// none has capacity. It reports whether the frame was sent.
func submitWait(t *testing.T, p *Pool, frame []byte, w Waiter, ref uint64) bool {
	t.Helper()
	deadline := time.After(waitBound)
	for {
		room := p.Room()
		for _, s := range p.Sessions() {
			if !s.Available(time.Now()) {
				continue
			}
			err := s.Submit(frame, w, ref)
			if err == nil {
				return true
			}
			if !errors.Is(err, ErrWindowFull) && !errors.Is(err, ErrNotBound) {
				t.Errorf("Submit: %v", err)
				return false
			}
		}
		select {
		case <-room:
		case <-deadline:
			t.Errorf("no room for ref %d within %v", ref, waitBound)
			return false
		}
	}
}

func TestSubmitConcurrentSameRefs(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2), simtest.RespLatency(2*time.Millisecond))
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addrs()...), Window: 4}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 4 })
	const clients, perClient = 8, 60
	recs := make([]*recorder, clients)
	var wg sync.WaitGroup
	for c := range clients {
		recs[c] = newRecorder(perClient)
		wg.Go(func() {
			frame := submitFrame(t, "hello", false)
			for ref := range uint64(perClient) {
				submitWait(t, p.Pool, frame, recs[c], ref)
			}
		})
	}
	wg.Wait()
	for c, r := range recs {
		seen := make(map[uint64]bool)
		for range perClient {
			res := eventually.Recv(t, r.ch, waitBound, "SubmitDone")
			if res.err != nil || res.status() != pdu.StatusOK {
				t.Fatalf("client %d ref %d: err %v status %v", c, res.ref, res.err, res.status())
			}
			if pdu.Seq(res.resp) != res.reqSeq {
				t.Fatalf("client %d ref %d: resp seq %d, req seq %d", c, res.ref, pdu.Seq(res.resp), res.reqSeq)
			}
			var body pdu.SMResp
			if err := body.Decode(res.resp[pdu.HeaderLen:]); err != nil || len(body.MessageID) == 0 {
				t.Fatalf("client %d ref %d: message_id %q, %v", c, res.ref, body.MessageID, err)
			}
			if seen[res.ref] {
				t.Fatalf("client %d: ref %d answered twice", c, res.ref)
			}
			seen[res.ref] = true
		}
		select {
		case res := <-r.ch:
			t.Fatalf("client %d: extra SubmitDone for ref %d", c, res.ref)
		default:
		}
	}
	if got := srv.Stats().Accepted; got != clients*perClient {
		t.Errorf("simulator accepted %d, want %d", got, clients*perClient)
	}
	for _, s := range p.Sessions() {
		if s.Pending() != 0 {
			t.Errorf("session %d: %d pending", s.Index(), s.Pending())
		}
	}
}

func TestWindowFull(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.RespLatency(300*time.Millisecond))
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addr()), SessionsPerHost: 1, Window: 2}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	s, r, frame := p.Sessions()[0], newRecorder(10), submitFrame(t, "hi", false)
	for ref := range uint64(2) {
		if err := s.Submit(frame, r, ref); err != nil {
			t.Fatalf("Submit %d: %v", ref, err)
		}
	}
	room := p.Room()
	if err := s.Submit(frame, r, 2); !errors.Is(err, ErrWindowFull) {
		t.Fatalf("third Submit: %v, want ErrWindowFull", err)
	}
	if s.Free() != 0 || s.Pending() != 2 || s.Available(time.Now()) {
		t.Errorf("free %d pending %d available %v; want 0, 2, false", s.Free(), s.Pending(), s.Available(time.Now()))
	}
	eventually.Recv(t, room, waitBound, "Room signal")
	if !s.Available(time.Now()) {
		t.Fatalf("not available after a response")
	}
	if err := s.Submit(frame, r, 2); err != nil {
		t.Fatalf("Submit after room: %v", err)
	}
	for range 3 {
		if res := eventually.Recv(t, r.ch, waitBound, "SubmitDone"); res.err != nil || res.status() != pdu.StatusOK {
			t.Errorf("ref %d: %v %v", res.ref, res.err, res.status())
		}
	}
}

func TestThrottledResponsePausesSession(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addr()), SessionsPerHost: 1, ThrottlePause: 300 * time.Millisecond}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	s, r, frame := p.Sessions()[0], newRecorder(10), submitFrame(t, "hi", false)
	srv.SetThrottle(true)
	if err := s.Submit(frame, r, 7); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	res := eventually.Recv(t, r.ch, waitBound, "SubmitDone")
	if res.err != nil || res.status() != pdu.StatusThrottled || res.ref != 7 {
		t.Fatalf("got ref %d err %v status %v, want ESME_RTHROTTLED", res.ref, res.err, res.status())
	}
	if !res.throttled {
		t.Errorf("session not yet throttled when SubmitDone ran")
	}
	start := time.Now()
	if err := s.Submit(frame, r, 8); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Submit during the pause: %v, want ErrThrottled", err)
	}
	srv.SetThrottle(false)
	for !s.Available(time.Now()) {
		room := p.Room()
		if s.Available(time.Now()) {
			break
		}
		eventually.Recv(t, room, waitBound, "Room signal at the end of the pause")
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("pause ended after %v, want about 300ms", d)
	}
	if err := s.Submit(frame, r, 9); err != nil {
		t.Fatalf("Submit after the pause: %v", err)
	}
	if res := eventually.Recv(t, r.ch, waitBound, "SubmitDone"); res.status() != pdu.StatusOK {
		t.Errorf("after the pause: %v", res.status())
	}
}

func TestDropSessionsOneHost(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2), simtest.RespLatency(time.Second))
	a, b := srv.Addrs()[0], srv.Addrs()[1]
	p := newTestPool(t, Config{Hosts: hostsOf(a, b), ReconnectDelay: 10 * time.Second}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 4 })
	before := gens(p.Pool)
	r, frame := newRecorder(10), submitFrame(t, "hi", false)
	for i, s := range p.Sessions() {
		if err := s.Submit(frame, r, uint64(i)); err != nil {
			t.Fatalf("Submit on %d: %v", i, err)
		}
	}
	srv.DropSessions(a)
	start := time.Now()
	for range 2 {
		res := eventually.Recv(t, r.ch, waitBound, "SubmitDone of a dropped session")
		if !errors.Is(res.err, ErrSessionLost) || res.resp != nil || res.s.Host() != a {
			t.Fatalf("ref %d on %s: err %v resp %x, want ErrSessionLost on %s", res.ref, res.s.Host(), res.err, res.resp, a)
		}
	}
	eventually.That(t, 2*time.Second, "host a rebound", func() bool { return p.Bound() == 4 })
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("rebinding took %v, want a quick first retry", d)
	}
	after := gens(p.Pool)
	for i := range after {
		changed := after[i] != before[i]
		if onA := i < 2; changed != onA {
			t.Errorf("session %d: gen %d -> %d; want a new connection only on host a", i, before[i], after[i])
		}
	}
	if err := p.Sessions()[0].Reply(before[0], pdu.AppendHeaderOnly(nil, pdu.CmdDeliverSMResp, 0, 1)); !errors.Is(err, ErrStale) {
		t.Errorf("Reply on a replaced connection: %v, want ErrStale", err)
	}
	for range 2 {
		res := eventually.Recv(t, r.ch, waitBound, "SubmitDone on host b")
		if res.err != nil || res.status() != pdu.StatusOK || res.s.Host() != b {
			t.Errorf("ref %d on %s: %v %v", res.ref, res.s.Host(), res.err, res.status())
		}
	}
	if m := p.conns.max.Load(); m > 4 {
		t.Errorf("%d connections open at once, want at most 4", m)
	}
}

func TestDeliverAndReply(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	h := newDeliverRecorder()
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addr()), SessionsPerHost: 1}, h)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	r := newRecorder(1)
	if err := p.Sessions()[0].Submit(submitFrame(t, "report me", true), r, 1); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	eventually.Recv(t, r.ch, waitBound, "SubmitDone")
	d := eventually.Recv(t, h.ch, waitBound, "deliver_sm")
	if d.gen != d.s.Gen() {
		t.Fatalf("deliver gen %d, session gen %d", d.gen, d.s.Gen())
	}
	if err := d.s.Reply(d.gen+1000, pdu.AppendHeaderOnly(nil, pdu.CmdDeliverSMResp, 0, d.seq)); !errors.Is(err, ErrStale) {
		t.Errorf("Reply with a wrong gen: %v, want ErrStale", err)
	}
	if err := d.s.Reply(d.gen, []byte{1, 2}); !errors.Is(err, ErrBadFrame) {
		t.Errorf("Reply with a short frame: %v, want ErrBadFrame", err)
	}
	resp := pdu.Append(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, d.seq, &pdu.SMResp{})
	if err := d.s.Reply(d.gen, resp); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	eventually.That(t, waitBound, "receipt acknowledged", func() bool { return srv.Stats().DLRsAcked == 1 })
}

func TestShutdownWaitsThenUnbinds(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.RespLatency(300*time.Millisecond))
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addr())}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 2 })
	r, frame := newRecorder(10), submitFrame(t, "hi", false)
	for ref := range uint64(4) {
		if err := p.Sessions()[ref%2].Submit(frame, r, ref); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()
	eventually.That(t, waitBound, "Submit refused while shutting down", func() bool {
		return errors.Is(p.Sessions()[0].Submit(frame, r, 99), ErrClosing)
	})
	if err := eventually.Recv(t, done, waitBound, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range 4 {
		if res := eventually.Recv(t, r.ch, waitBound, "SubmitDone"); res.err != nil || res.status() != pdu.StatusOK {
			t.Errorf("ref %d: err %v status %v; want every in-flight submit answered", res.ref, res.err, res.status())
		}
	}
	if got := countLogs(p.logs, zapcore.InfoLevel, "unbound"); got != 2 {
		t.Errorf("%d unbound logs, want 2", got)
	}
	for _, s := range p.Sessions() {
		if s.State() != StateClosed {
			t.Errorf("session %d: %v, want closed", s.Index(), s.State())
		}
	}
	eventually.That(t, waitBound, "simulator sessions gone", func() bool { return srv.Stats().SessionsBound == 0 })
	if p.Bound() != 0 {
		t.Errorf("Bound() = %d after Shutdown", p.Bound())
	}
}

func TestBadCredentialsRetrySlowly(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "right"))
	const delay = 400 * time.Millisecond
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addr()), SystemID: "acct", Password: "wrong-pw", ReconnectDelay: delay}, nil)
	start := time.Now()
	eventually.That(t, waitBound, "three refused binds per slot", func() bool { return srv.Stats().BindFailures >= 6 })
	if d := time.Since(start); d < 2*delay-50*time.Millisecond {
		t.Errorf("6 refused binds within %v: retries not slowed to %v", d, delay)
	}
	if got := countLogs(p.logs, zapcore.ErrorLevel, "bind refused: check upstream system_id and password; retrying slowly"); got != 2 {
		t.Errorf("%d Error logs, want one per slot (2)", got)
	}
	for _, e := range p.logs.All() {
		for _, f := range e.Context {
			if f.String == "wrong-pw" || (f.Interface != nil && containsSecret(f.Interface)) {
				t.Errorf("password logged in %q", e.Message)
			}
		}
	}
	if p.Bound() != 0 {
		t.Errorf("Bound() = %d with bad credentials", p.Bound())
	}
}

func containsSecret(v any) bool {
	if e, ok := v.(error); ok {
		return e.Error() == "wrong-pw"
	}
	return false
}
