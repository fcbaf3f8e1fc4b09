package downstream

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func TestLockoutCounts(t *testing.T) {
	t.Parallel()
	l := newLockout(3, time.Minute)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	t0 := time.Unix(1000, 0)
	for i := range 2 {
		if locked, _ := l.Fail(a, t0.Add(time.Duration(i)*time.Second)); locked {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	locked, until := l.Fail(a, t0.Add(2*time.Second))
	if !locked || !until.Equal(t0.Add(62*time.Second)) {
		t.Fatalf("third failure: locked %v until %v", locked, until)
	}
	if again, _ := l.Fail(a, t0.Add(3*time.Second)); again {
		t.Error("lockout reported twice")
	}
	if !l.Locked(a, t0.Add(61*time.Second)) || l.Locked(b, t0.Add(5*time.Second)) {
		t.Error("lockout not per IP")
	}
	if l.Locked(a, t0.Add(62*time.Second)) {
		t.Error("still locked after the lockout")
	}
	if locked, _ := l.Fail(a, t0.Add(63*time.Second)); locked {
		t.Error("a fresh failure after the lockout locked at once")
	}
}

func TestLockoutPeriodResets(t *testing.T) {
	t.Parallel()
	l := newLockout(2, time.Minute)
	a := netip.MustParseAddr("2001:db8::1")
	t0 := time.Unix(1000, 0)
	l.Fail(a, t0)
	if locked, _ := l.Fail(a, t0.Add(2*time.Minute)); locked {
		t.Error("failures further apart than the period locked")
	}
	if locked, _ := l.Fail(a, t0.Add(2*time.Minute+time.Second)); !locked {
		t.Error("two failures within the period did not lock")
	}
}

func TestLockoutSweeps(t *testing.T) {
	t.Parallel()
	l := newLockout(5, time.Minute)
	t0 := time.Unix(1000, 0)
	for i := range 3000 {
		l.Fail(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), t0)
	}
	// Records past their period go at the next sweep, which comes before
	// the map doubles.
	for i := range 3000 {
		l.Fail(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), t0.Add(2*time.Minute))
		if len(l.ips) < 3000 {
			return
		}
	}
	t.Errorf("%d records kept after their period", len(l.ips))
}

func TestLockoutDisabled(t *testing.T) {
	t.Parallel()
	l := newLockout(-1, time.Minute)
	a := netip.MustParseAddr("192.0.2.1")
	for range 100 {
		if locked, _ := l.Fail(a, time.Now()); locked {
			t.Fatal("disabled lockout locked")
		}
	}
	if l.Locked(a, time.Now()) {
		t.Error("disabled lockout locked")
	}
}

func TestIPOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5}, "127.0.0.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 5}, "10.1.2.3"},
		{&net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5}, "2001:db8::1"},
	} {
		ip, ok := ipOf(tc.addr)
		if !ok || ip.String() != tc.want {
			t.Errorf("ipOf(%v) = %v %v", tc.addr, ip, ok)
		}
	}
	if _, ok := ipOf(nil); ok {
		t.Error("ipOf(nil) ok")
	}
}

// bindStatus binds on a new connection and returns the answer's status.
func bindStatus(t *testing.T, addr string, local net.Addr, systemID, password string) pdu.Status {
	t.Helper()
	c := esme.DialConn(t, addr, esme.ConnOptions{LocalAddr: local})
	seq := c.Send(pdu.CmdBindTransmitter, esme.BindRequest(systemID, password))
	h := c.Read()
	if h.ID != pdu.CmdBindTransmitterResp || h.Seq != seq {
		t.Fatalf("got %v seq %d, want bind_transmitter_resp seq %d", h.ID, h.Seq, seq)
	}
	if h.Status != pdu.StatusOK {
		c.ExpectClosed(waitBound)
	}
	c.NetConn().Close()
	return h.Status
}

func TestBindLockout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{BindFailLimit: 3, BindLockout: 400 * time.Millisecond}, newBinder())
	for range 3 {
		if st := bindStatus(t, ts.addr, nil, "shop", "guess"); st != pdu.StatusInvPassword {
			t.Fatalf("wrong password: %v", st)
		}
	}
	locked := time.Now()
	if st := bindStatus(t, ts.addr, nil, "shop", "secret"); st != pdu.StatusBindFail {
		t.Fatalf("locked out, right password: %v, want ESME_RBINDFAIL", st)
	}
	if st := bindStatus(t, ts.addr, nil, "bank", "vault"); st != pdu.StatusBindFail {
		t.Fatalf("locked out, other system_id: %v, want ESME_RBINDFAIL", st)
	}
	// Another IP is unaffected, and so is the system_id from there.
	other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	if c, err := net.DialTCP("tcp", other, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(ts.addr))); err != nil {
		t.Logf("no 127.0.0.2 here (%v); skipping the other-IP check", err)
	} else {
		c.Close()
		if st := bindStatus(t, ts.addr, other, "shop", "secret"); st != pdu.StatusOK {
			t.Errorf("other IP: %v, want ESME_ROK", st)
		}
	}
	// Attempts during the lockout do not extend it.
	var st pdu.Status
	eventually.That(t, waitBound, "bind after the lockout", func() bool {
		st = bindStatus(t, ts.addr, nil, "shop", "secret")
		return st == pdu.StatusOK
	})
	if d := time.Since(locked); d < 350*time.Millisecond {
		t.Errorf("bound %v after the lockout began", d)
	}
}

// TestLockoutBoundsChecksInFlight: a check counts as a failure from its
// start, so an address has at most limit checks running or failed.
func TestLockoutBoundsChecksInFlight(t *testing.T) {
	t0 := time.Now()
	l := newLockout(3, time.Minute)
	a := netip.MustParseAddr("192.0.2.1")
	begin := func() (bool, <-chan struct{}) { return l.Begin(a, t0) }
	for i := range 3 {
		if ok, _ := begin(); !ok {
			t.Fatalf("check %d refused", i+1)
		}
	}
	ok, wait := begin()
	if ok || wait == nil {
		t.Fatal("a fourth concurrent check began, or was refused as locked out")
	}
	if locked, _ := l.End(a, t0, true); locked {
		t.Fatal("one failure locked")
	}
	select {
	case <-wait:
	default:
		t.Fatal("the end of a check did not wake the waiting one")
	}
	if ok, _ := begin(); ok {
		t.Fatal("began with 1 failure and 2 checks running")
	}
	l.End(a, t0, false) // a good password
	if ok, _ := begin(); !ok {
		t.Fatal("refused with 1 failure and 1 check running")
	}
	l.End(a, t0, true)
	if locked, _ := l.End(a, t0, true); !locked {
		t.Fatal("three failures did not lock")
	}
	if ok, wait := l.Begin(a, t0.Add(59*time.Second)); ok || wait != nil {
		t.Fatal("began, or was told to wait, while locked out")
	}
	if ok, _ := l.Begin(a, t0.Add(61*time.Second)); !ok {
		t.Fatal("refused after the lockout")
	}
}

// TestBindCrowdOneAddress: many clients behind one address binding at
// once take turns through the check limit; none is refused.
func TestBindCrowdOneAddress(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{BindFailLimit: 3, MaxBindChecks: 1}, newBinder())
	var wg sync.WaitGroup
	var bound atomic.Int32
	for range 40 {
		wg.Go(func() {
			if bindStatus(t, ts.addr, nil, "shop", "secret") == pdu.StatusOK {
				bound.Add(1)
			}
		})
	}
	wg.Wait()
	if bound.Load() != 40 {
		t.Fatalf("%d of 40 bound", bound.Load())
	}
}

// slowBinder refuses every bind after a while, counting the checks it
// runs and the most it ran at once.
type slowBinder struct {
	running, most, total atomic.Int32
}

func (b *slowBinder) Bind(*Session, BindRequest) (Handler, pdu.Status) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	b.total.Add(1)
	for {
		m := b.most.Load()
		if n <= m || b.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond) // a bcrypt check's worth of work, shortened
	return nil, pdu.StatusInvPassword
}

// TestBindBurstBounded: 60 concurrent wrong passwords from 2 addresses
// run at most bind_fail_limit checks per address, at most MaxBindChecks
// at once; every connection still gets its answer.
func TestBindBurstBounded(t *testing.T) {
	t.Parallel()
	b := &slowBinder{}
	ts := startServer(t, Config{BindFailLimit: 5, BindLockout: time.Minute, MaxBindChecks: 2, MaxUnboundPerIP: 100}, b)
	var wg sync.WaitGroup
	var refused atomic.Int32
	for i := range 60 {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%2))}
		wg.Go(func() {
			st := bindStatus(t, ts.addr, local, "shop", "guess")
			if st == pdu.StatusInvPassword || st == pdu.StatusBindFail {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if refused.Load() != 60 {
		t.Errorf("%d of 60 binds refused", refused.Load())
	}
	if got := b.total.Load(); got > 10 {
		t.Errorf("%d password checks ran, want at most 10 (5 per address)", got)
	}
	if got := b.most.Load(); got > 2 {
		t.Errorf("%d checks ran at once, want at most 2", got)
	}
}

// The binds the Server refuses itself, and its lockouts, are counted.
func TestBindRefusalStats(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{BindFailLimit: 2, BindLockout: time.Minute}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	seq := c.Send(pdu.CmdBindTransmitter, nil) // no body: does not decode
	if h := c.Read(); h.ID != pdu.CmdBindTransmitterResp || h.Seq != seq || h.Status == pdu.StatusOK {
		t.Fatalf("malformed bind: %v %v seq %d", h.ID, h.Status, h.Seq)
	}
	c.ExpectClosed(waitBound)
	if st := bindStatus(t, ts.addr, nil, "shop", "guess"); st != pdu.StatusInvPassword {
		t.Fatalf("wrong password: %v", st)
	}
	for range 2 {
		if st := bindStatus(t, ts.addr, nil, "shop", "secret"); st != pdu.StatusBindFail {
			t.Fatalf("locked out: %v, want ESME_RBINDFAIL", st)
		}
	}
	st := ts.Stats()
	if st.BindsMalformed != 1 || st.Lockouts != 1 || st.BindsLocked != 2 {
		t.Fatalf("stats %+v: want 1 malformed bind, 1 lockout, 2 binds refused while locked out", st)
	}
}

// panicBinder panics on every bind, as a Binder with a bug would.
type panicBinder struct{}

func (panicBinder) Bind(*Session, BindRequest) (Handler, pdu.Status) { panic("binder bug") }

// A bind check ends even when the Binder panics: the address has no check
// left running, so its next binds do not wait for one for ever. The panic
// is logged with its value and the stack where it began (the Binder runs
// aside from the session goroutine).
func TestBindCheckEndsOnPanic(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.ErrorLevel)
	ts := startServer(t, Config{BindFailLimit: 5, Logger: zap.New(core)}, panicBinder{})
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Send(pdu.CmdBindTransceiver, esme.BindRequest("shop", "secret"))
	c.ExpectClosed(waitBound)
	ip := netip.MustParseAddr("127.0.0.1")
	eventually.That(t, waitBound, "the check ended and counted as a failure", func() bool {
		ts.lock.mu.Lock()
		defer ts.lock.mu.Unlock()
		f := ts.lock.ips[ip]
		return f != nil && f.inflight == 0 && f.n == 1
	})
	eventually.That(t, waitBound, "the panic logged", func() bool { return logs.FilterMessage("handler panic; session closed").Len() == 1 })
	m := logs.FilterMessage("handler panic; session closed").All()[0].ContextMap()
	if m["panic"] != "binder bug" || !strings.Contains(fmt.Sprint(m["stack"]), "panicBinder.Bind") {
		t.Errorf("panic logged as %v with stack\n%v\nwant binder bug and panicBinder.Bind in the stack", m["panic"], m["stack"])
	}
}
