package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/freeport"
	"github.com/smpp-mux/smpp-mux/internal/testcert"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// tally is a Waiter that counts submits answered ESME_ROK and the others,
// keeping the first of those.
type tally struct {
	ok, bad atomic.Int64
	mu      sync.Mutex
	first   string
}

func (w *tally) SubmitDone(s *Session, ref uint64, req, resp []byte, _ time.Time, err error) {
	if h, _ := pdu.DecodeHeader(resp); err == nil && h.Status == pdu.StatusOK {
		w.ok.Add(1)
		return
	}
	w.bad.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first == "" {
		w.first = fmt.Sprintf("ref %d on session %d: err %v, resp %x", ref, s.Index(), err, resp)
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestReconfigureReplacesOneAtATime(t *testing.T) {
	t.Parallel()
	oldSrv := simtest.NewServer(t, simtest.Hosts(2), simtest.RespLatency(10*time.Millisecond))
	newSrv := simtest.NewServer(t, simtest.Hosts(2), simtest.RespLatency(10*time.Millisecond))
	p := newTestPool(t, Config{Hosts: hostsOf(oldSrv.Addrs()...), Window: 4}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 4 })
	before := p.Sessions()

	w := &tally{}
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			frame := submitFrame(t, "rolling", false)
			for ref := uint64(0); ; ref++ {
				select {
				case <-stop:
					return
				default:
				}
				if submitWait(t, p.Pool, frame, w, ref) {
					sent.Add(1)
				}
			}
		})
	}
	eventually.That(t, waitBound, "traffic before the change", func() bool { return w.ok.Load() > 50 })
	if err := p.reconfigure(context.Background(), Config{Hosts: hostsOf(newSrv.Addrs()...), Window: 4}, waitBound); err != nil {
		t.Fatalf("Reconfigure: %v", err)
	}
	atSwitch := w.ok.Load()
	eventually.That(t, waitBound, "traffic after the change", func() bool { return w.ok.Load() > atSwitch+50 })
	close(stop)
	wg.Wait()
	eventually.That(t, waitBound, "every submit answered", func() bool { return w.ok.Load()+w.bad.Load() == sent.Load() })
	if n := w.bad.Load(); n != 0 {
		t.Errorf("%d of %d submits not answered ESME_ROK; first: %s", n, sent.Load(), w.first)
	}

	after := p.Sessions()
	if len(after) != 4 {
		t.Fatalf("%d sessions after, want 4", len(after))
	}
	for i, s := range after {
		if want := newSrv.Addrs()[i/2]; s.Host() != want || s.Index() != 4+i || s.State() != StateBound {
			t.Errorf("session %d: host %s index %d state %v; want %s, index %d, bound", i, s.Host(), s.Index(), s.State(), want, 4+i)
		}
	}
	for _, s := range before {
		if s.State() != StateClosed {
			t.Errorf("old session %d: %v, want closed", s.Index(), s.State())
		}
	}
	if m := p.conns.max.Load(); m > 5 {
		t.Errorf("%d connections open at once, want at most 4+1", m)
	}
	if got := countLogs(p.logs, zapcore.InfoLevel, "session retired"); got != 4 {
		t.Errorf("%d sessions retired, want 4", got)
	}
	eventually.That(t, waitBound, "old hosts unbound", func() bool { return oldSrv.Stats().SessionsBound == 0 })
	if got := newSrv.Stats().SessionsBound; got != 4 {
		t.Errorf("new hosts see %d sessions, want 4", got)
	}
}

func TestReconfigureKeepsWhatStays(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2))
	hosts := hostsOf(srv.Addrs()...)
	p := newTestPool(t, Config{Hosts: hosts}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 4 })
	ctx := context.Background()
	orig, g := p.Sessions(), gens(p.Pool)
	dials := p.conns.dials.Load()

	if err := p.reconfigure(ctx, Config{}, waitBound); err == nil || !strings.Contains(err.Error(), "upstream.host") {
		t.Errorf("Reconfigure to an invalid config: %v, want an error naming upstream.host", err)
	}
	if err := p.reconfigure(ctx, Config{Hosts: hostsOf(srv.Addrs()...)}, waitBound); err != nil {
		t.Fatalf("Reconfigure to the same settings: %v", err)
	}
	if !slices.Equal(p.Sessions(), orig) || !slices.Equal(gens(p.Pool), g) || p.conns.dials.Load() != dials {
		t.Fatalf("the same settings changed sessions: gens %v -> %v, dials %d -> %d", g, gens(p.Pool), dials, p.conns.dials.Load())
	}

	// One more slot per host: two are added, the others stay bound.
	if err := p.reconfigure(ctx, Config{Hosts: hosts, SessionsPerHost: 3}, waitBound); err != nil {
		t.Fatalf("Reconfigure to 3 per host: %v", err)
	}
	if got := p.Sessions(); len(got) != 6 || !slices.Equal(got[:4], orig) || got[4].Host() != hosts[0].Address || got[5].Host() != hosts[1].Address {
		t.Fatalf("sessions after growing: %d, want the 4 kept and one more on each host", len(got))
	}
	if !slices.Equal(gens(p.Pool)[:4], g) || p.conns.dials.Load() != dials+2 || p.Bound() != 6 {
		t.Fatalf("growing: gens %v -> %v, dials %d -> %d, bound %d", g, gens(p.Pool), dials, p.conns.dials.Load(), p.Bound())
	}

	// One per host: the surplus is retired, the first slot of each host kept.
	if err := p.reconfigure(ctx, Config{Hosts: hosts, SessionsPerHost: 1}, waitBound); err != nil {
		t.Fatalf("Reconfigure to 1 per host: %v", err)
	}
	if got := p.Sessions(); !slices.Equal(got, []*Session{orig[0], orig[2]}) || got[0].Gen() != g[0] || got[1].Gen() != g[2] {
		t.Fatalf("after shrinking: %d sessions; want slots 0 and 2 kept on their connections", len(got))
	}
	eventually.That(t, waitBound, "surplus unbound", func() bool { return srv.Stats().SessionsBound == 2 })

	// A new password touches every connection: each slot is replaced.
	dials = p.conns.dials.Load()
	if err := p.reconfigure(ctx, Config{Hosts: hosts, SessionsPerHost: 1, SystemID: "acct", Password: "rotated"}, waitBound); err != nil {
		t.Fatalf("Reconfigure to a new password: %v", err)
	}
	got := p.Sessions()
	if len(got) != 2 || got[0].Index() != 6 || got[1].Index() != 7 || p.conns.dials.Load() != dials+2 || p.Bound() != 2 {
		t.Fatalf("after a new password: %d sessions, dials %d -> %d, bound %d; want both replaced", len(got), dials, p.conns.dials.Load(), p.Bound())
	}
	if orig[0].State() != StateClosed || orig[2].State() != StateClosed {
		t.Errorf("replaced sessions: %v, %v; want closed", orig[0].State(), orig[2].State())
	}
}

func TestSameSessionAndHost(t *testing.T) {
	t.Parallel()
	base := Config{Hosts: hostsOf("a:1"), SystemID: "acct", Password: "pw"}
	base.defaults()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		same bool
	}{
		{"hosts, sessions and logger are not connection settings", func(c *Config) {
			c.Hosts, c.SessionsPerHost, c.Logger = hostsOf("b:2"), 5, zap.NewExample()
		}, true},
		{"password", func(c *Config) { c.Password = "other" }, false},
		{"system_type", func(c *Config) { c.SystemType = "x" }, false},
		{"bind", func(c *Config) { c.Bind = pdu.CmdBindTransmitter }, false},
		{"window", func(c *Config) { c.Window = 7 }, false},
		{"enquire_link", func(c *Config) { c.EnquireLink = time.Second }, false},
	} {
		c := base
		tc.edit(&c)
		if got := base.sameSession(&c); got != tc.same {
			t.Errorf("%s: sameSession %v, want %v", tc.name, got, tc.same)
		}
	}

	ca := testcert.New(t).CA
	pemBytes, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	roots := func(pem []byte) *x509.CertPool {
		p := x509.NewCertPool()
		p.AppendCertsFromPEM(pem)
		return p
	}
	otherPEM, err := os.ReadFile(testcert.New(t).CA)
	if err != nil {
		t.Fatal(err)
	}
	h := Host{Address: "h:8775", TLS: true, TLSConfig: &tls.Config{RootCAs: roots(pemBytes)}}
	for _, tc := range []struct {
		name string
		o    Host
		same bool
	}{
		{"the same CA read again", Host{Address: "h:8775", TLS: true, TLSConfig: &tls.Config{RootCAs: roots(pemBytes)}}, true},
		{"another CA", Host{Address: "h:8775", TLS: true, TLSConfig: &tls.Config{RootCAs: roots(otherPEM)}}, false},
		{"another server name", Host{Address: "h:8775", TLS: true, TLSConfig: &tls.Config{RootCAs: roots(pemBytes), ServerName: "x"}}, false},
		{"the system roots", Host{Address: "h:8775", TLS: true}, false},
		{"plain", Host{Address: "h:8775"}, false},
		{"another address", Host{Address: "h:8776", TLS: true, TLSConfig: &tls.Config{RootCAs: roots(pemBytes)}}, false},
	} {
		if got := h.same(tc.o); got != tc.same {
			t.Errorf("%s: same %v, want %v", tc.name, got, tc.same)
		}
	}
	if !(Host{Address: "h:8775", TLS: true}).same(Host{Address: "h:8775", TLS: true, TLSConfig: &tls.Config{ServerName: "h"}}) {
		t.Errorf("a nil TLSConfig and its explicit defaults differ")
	}
}

// A retired session takes no new submits, refuses new reports, answers
// those in flight, and only then unbinds; its replacement is bound first.
func TestReconfigureRetiredSessionDrains(t *testing.T) {
	t.Parallel()
	oldF := newFake(t, "127.0.0.1:0", silentSubmits)
	newF := newFake(t, "127.0.0.1:0", nil)
	h := newDeliverRecorder()
	p := newTestPool(t, Config{Hosts: hostsOf(oldF.addr), SessionsPerHost: 1}, h)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	old := p.Sessions()[0]
	r, frame := newRecorder(10), submitFrame(t, "in flight", false)
	for ref := range uint64(3) {
		if err := old.Submit(frame, r, ref); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	var fc *fakeConn
	var seqs []uint32
	for range 3 {
		fr := oldF.next(pdu.CmdSubmitSM)
		fc, seqs = fr.fc, append(seqs, fr.h.Seq)
	}

	done := make(chan error, 1)
	go func() {
		done <- p.reconfigure(context.Background(), Config{Hosts: hostsOf(newF.addr), SessionsPerHost: 1}, waitBound)
	}()
	eventually.That(t, waitBound, "old session draining", func() bool { return old.State() == StateDraining })
	if ss := p.Sessions(); len(ss) != 2 || ss[1].Host() != newF.addr || ss[1].State() != StateBound {
		t.Fatalf("while draining: %d sessions; want the old one and its replacement, bound", len(ss))
	}
	if old.Available(time.Now()) {
		t.Errorf("a draining session is available")
	}
	if err := old.Submit(frame, r, 9); !errors.Is(err, ErrNotBound) {
		t.Errorf("Submit on a draining session: %v, want ErrNotBound", err)
	}
	fc.send(pdu.Append(nil, pdu.CmdDeliverSM, pdu.StatusOK, 77, &pdu.SM{SourceAddr: []byte("4512345678"), DestAddr: []byte("mux"), ShortMessage: []byte("mo")}))
	if fr := oldF.next(pdu.CmdDeliverSMResp); fr.h.Seq != 77 || fr.h.Status != pdu.StatusTempAppErr {
		t.Errorf("deliver_sm on a draining session answered seq %d %v, want 77 ESME_RX_T_APPN", fr.h.Seq, fr.h.Status)
	}
	select {
	case err := <-done:
		t.Fatalf("Reconfigure returned with submits in flight: %v", err)
	default:
	}

	for _, seq := range seqs {
		fc.send(pdu.Append(nil, pdu.CmdSubmitSMResp, pdu.StatusOK, seq, &pdu.SMResp{MessageID: []byte("m")}))
	}
	for range 3 {
		if res := eventually.Recv(t, r.ch, waitBound, "SubmitDone"); res.err != nil || res.status() != pdu.StatusOK {
			t.Errorf("ref %d: %v %v; want answered by the provider", res.ref, res.err, res.status())
		}
	}
	oldF.next(pdu.CmdUnbind)
	if err := eventually.Recv(t, done, waitBound, "Reconfigure"); err != nil {
		t.Fatalf("Reconfigure: %v", err)
	}
	if ss := p.Sessions(); len(ss) != 1 || ss[0].Host() != newF.addr || old.State() != StateClosed {
		t.Errorf("after: %d sessions, old %v; want only the new one", len(ss), old.State())
	}
	select {
	case d := <-h.ch:
		t.Errorf("the refused report reached the handler: seq %d", d.seq)
	default:
	}
}

func TestReconfigureBindFailure(t *testing.T) {
	t.Parallel()
	a := simtest.NewServer(t, simtest.Hosts(2))
	b := simtest.NewServer(t, simtest.Hosts(2))
	dead := deadAddr(t)
	p := newTestPool(t, Config{Hosts: hostsOf(a.Addrs()...), SessionsPerHost: 1}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 2 })
	ctx, orig := context.Background(), p.Sessions()

	// Nothing binds: nothing changes.
	err := p.reconfigure(ctx, Config{Hosts: hostsOf(dead), SessionsPerHost: 1}, time.Second)
	for _, want := range []string{dead, "did not bind within 1s", "connection refused", "no session was changed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Reconfigure to a dead host: %v; want an error saying %q", err, want)
		}
	}
	if !slices.Equal(p.Sessions(), orig) || p.Bound() != 2 {
		t.Fatalf("after a failed Reconfigure: %d sessions, %d bound; want the old 2", len(p.Sessions()), p.Bound())
	}

	// The first slot moves, the second cannot: the move made stays made.
	err = p.reconfigure(ctx, Config{Hosts: hostsOf(b.Addrs()[0], dead), SessionsPerHost: 1}, time.Second)
	if err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "stopped after 1 of 2 steps") ||
		!strings.Contains(err.Error(), "1 keep the old ones") {
		t.Fatalf("Reconfigure half failing: %v; want an error saying 1 of 2 steps were made", err)
	}
	ss := p.Sessions()
	if len(ss) != 2 || ss[0] != orig[1] || ss[1].Host() != b.Addrs()[0] || p.Bound() != 2 || orig[0].State() != StateClosed {
		t.Fatalf("after a half failure: %d sessions, %d bound; want the old second slot and the new first", len(ss), p.Bound())
	}

	// With the second host fixed, a Reconfigure goes on from there.
	moved := ss[1]
	if err := p.reconfigure(ctx, Config{Hosts: hostsOf(b.Addrs()...), SessionsPerHost: 1}, time.Second); err != nil {
		t.Fatalf("Reconfigure after the fix: %v", err)
	}
	if ss := p.Sessions(); len(ss) != 2 || ss[0] != moved || ss[1].Host() != b.Addrs()[1] || p.Bound() != 2 {
		t.Fatalf("after the fix: %d sessions, %d bound; want the moved one kept and one more on b[1]", len(ss), p.Bound())
	}
	eventually.That(t, waitBound, "old hosts unbound", func() bool { return a.Stats().SessionsBound == 0 })
}

func TestReconfigureStoppedByShutdown(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	mute := newFake(t, "127.0.0.1:0", func(_ *fakeConn, frame []byte) bool { return pdu.ID(frame).IsBind() })
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addr()), SessionsPerHost: 1}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 1 })
	done := make(chan error, 1)
	go func() {
		done <- p.reconfigure(context.Background(), Config{Hosts: hostsOf(mute.addr), SessionsPerHost: 1}, time.Minute)
	}()
	mute.next(pdu.CmdBindTransceiver) // the new session waits for a bind_resp that will not come
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := eventually.Recv(t, done, waitBound, "Reconfigure"); !errors.Is(err, ErrClosing) {
		t.Fatalf("Reconfigure stopped by Shutdown: %v, want ErrClosing", err)
	}
	for _, s := range p.Sessions() {
		if s.State() != StateClosed {
			t.Errorf("session %d on %s: %v, want closed", s.Index(), s.Host(), s.State())
		}
	}
	eventually.That(t, waitBound, "simulator sessions gone", func() bool { return srv.Stats().SessionsBound == 0 })
}

// A reload during the provider's rolling maintenance: one host is down,
// so its session is down too. Once the new settings have bound on the
// host that is up, the down session is replaced without waiting, and its
// replacement binds by itself when the host is back. With every host
// down nothing proves the new settings, and nothing changes.
func TestReconfigureDuringMaintenance(t *testing.T) {
	t.Parallel()
	sim := simtest.NewServer(t, simtest.Hosts(2))
	hosts := hostsOf(sim.Addrs()...)
	p := newTestPool(t, Config{Hosts: hosts, SessionsPerHost: 1, ReconnectDelay: 50 * time.Millisecond}, nil)
	eventually.That(t, waitBound, "bound", func() bool { return p.Bound() == 2 })
	sim.StopHost(1)
	eventually.That(t, waitBound, "the session on the stopped host down", func() bool { return p.Bound() == 1 })

	// New settings (a window change replaces every slot).
	next := Config{Hosts: hosts, SessionsPerHost: 1, ReconnectDelay: 50 * time.Millisecond, Window: 7}
	if err := p.reconfigure(context.Background(), next, 2*time.Second); err != nil {
		t.Fatalf("Reconfigure with one host in maintenance: %v", err)
	}
	ss := p.Sessions()
	if len(ss) != 2 {
		t.Fatalf("%d sessions after Reconfigure, want 2", len(ss))
	}
	for _, s := range ss {
		if s.cfg.Window != 7 {
			t.Errorf("session %d on %s keeps window %d, want the new 7", s.Index(), s.Host(), s.cfg.Window)
		}
	}
	if p.Bound() != 1 {
		t.Errorf("%d bound while host 1 is down, want 1", p.Bound())
	}
	sim.StartHost(1)
	eventually.That(t, waitBound, "the new session on the restarted host bound", func() bool { return p.Bound() == 2 })

	// Every host down: the settings cannot be proven; nothing changes.
	sim.StopHost(0)
	sim.StopHost(1)
	eventually.That(t, waitBound, "all down", func() bool { return p.Bound() == 0 })
	before := p.Sessions()
	err := p.reconfigure(context.Background(), Config{Hosts: hosts, SessionsPerHost: 1, ReconnectDelay: 50 * time.Millisecond, Window: 9}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no session was changed") {
		t.Fatalf("Reconfigure with every host down: %v; want it refused with nothing changed", err)
	}
	if !slices.Equal(p.Sessions(), before) {
		t.Errorf("sessions changed by a refused Reconfigure")
	}
}
