package downstream

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/pdu"
)

var bindIDs = []pdu.CommandID{pdu.CmdBindReceiver, pdu.CmdBindTransmitter, pdu.CmdBindTransceiver}

func TestBindRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{BindFailLimit: -1}, newBinder())
	cases := []struct {
		name, systemID, password string
		want                     pdu.Status
	}{
		{"wrong password", "shop", "nope", pdu.StatusInvPassword},
		{"unknown system_id", "ghost", "secret", pdu.StatusInvSystemID},
		{"not allowed", "blocked", "x", pdu.StatusBindFail},
	}
	for _, tc := range cases {
		for _, id := range bindIDs {
			t.Run(tc.name+"/"+id.String(), func(t *testing.T) {
				t.Parallel()
				c := dial(t, ts.addr)
				r := c.bind(id, tc.systemID, tc.password, tc.want)
				if string(r.SystemID) != "smpp-mux" {
					t.Errorf("system_id %q, want smpp-mux", r.SystemID)
				}
				if len(r.TLVs) != 0 {
					t.Errorf("refused bind_resp has TLVs % x", []byte(r.TLVs))
				}
				c.expectClosed(waitBound)
			})
		}
	}
}

func TestBindAccepted(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	for _, tc := range []struct {
		version byte
		wantTLV bool
	}{{0x34, true}, {0x50, true}, {0x33, false}, {0, false}} {
		for _, id := range bindIDs {
			t.Run(id.String()+"/"+itoa(uint32(tc.version)), func(t *testing.T) {
				t.Parallel()
				c := dial(t, ts.addr)
				b := bindPDU("shop", "secret")
				b.InterfaceVersion = tc.version
				seq := c.send(id, 0, b)
				f := c.expect(id.Resp(), pdu.StatusOK, seq)
				var r pdu.BindResp
				if err := r.Decode(f[pdu.HeaderLen:]); err != nil {
					t.Fatal(err)
				}
				v, ok := r.TLVs.Byte(pdu.TagSCInterfaceVersion)
				if string(r.SystemID) != "smpp-mux" || ok != tc.wantTLV || ok && v != 0x34 || !ok && len(r.TLVs) != 0 {
					t.Errorf("bind_resp system_id %q TLVs % x", r.SystemID, []byte(r.TLVs))
				}
				c.ping() // the session stays
			})
		}
	}
}

func TestSessionAccessors(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b)
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	s := recv(t, b.handler(t, "shop").bound, "bind")
	eventually(t, waitBound, func() bool { return len(ts.Sessions()) == 1 }, "one session listed")
	got := ts.Sessions()[0]
	if got != s || s.SystemID() != "shop" || s.Type() != Transceiver || s.Type().String() != "transceiver" ||
		s.RemoteAddr().String() != c.nc.LocalAddr().String() || s.ID() == 0 || s.Logger() == nil || s.WindowFree() != 10 {
		t.Errorf("session %d %q %v %v free %d", s.ID(), s.SystemID(), s.Type(), s.RemoteAddr(), s.WindowFree())
	}
}

func TestSecondBindAlreadyBound(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	c.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusAlreadyBound)
	c.bind(pdu.CmdBindReceiver, "bank", "vault", pdu.StatusAlreadyBound)
	seq := c.submit("still here")
	if id := c.expectSubmitResp(pdu.StatusOK, seq); id != "shop-"+itoa(seq) {
		t.Errorf("message_id %q", id)
	}
}

func TestBeforeBind(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := dial(t, ts.addr)
	c.ping()
	seq := c.submit("early")
	c.expect(pdu.CmdSubmitSMResp, pdu.StatusInvBindStatus, seq)
	for _, id := range []pdu.CommandID{pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM, pdu.CmdSubmitMulti, pdu.CmdDataSM, pdu.CmdDeliverSM} {
		seq := c.send(id, 0, nil)
		c.expect(id.Resp(), pdu.StatusInvBindStatus, seq)
	}
	for _, id := range []pdu.CommandID{pdu.CmdOutbind, pdu.CmdAlertNotification} {
		seq := c.send(id, 0, nil)
		c.expect(pdu.CmdGenericNack, pdu.StatusInvBindStatus, seq)
	}
	seq = c.send(pdu.CommandID(0x00000099), 0, nil)
	c.expect(pdu.CmdGenericNack, pdu.StatusInvCmdID, seq)
	c.send(pdu.CmdDeliverSMResp, 0, nil) // a stray response: ignored
	c.ping()
	c.bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
}

func TestUnbindBeforeBind(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := dial(t, ts.addr)
	seq := c.send(pdu.CmdUnbind, 0, nil)
	c.expect(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	c.expectClosed(waitBound)
}

func TestReceiverSubmit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindReceiver, "shop", "secret", pdu.StatusOK)
	seq := c.submit("not allowed")
	c.expect(pdu.CmdSubmitSMResp, pdu.StatusInvBindStatus, seq)
	c.ping()
}

func TestSubmitMalformedBody(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	long := submitBody("x")
	long.DestAddr = bytes.Repeat([]byte("4"), 30)
	seq := c.send(pdu.CmdSubmitSM, 0, long)
	c.expect(pdu.CmdSubmitSMResp, pdu.StatusInvDstAddr, seq)
	// A body cut short: command_length fits the frame, the fields do not.
	seq = c.nextSeq()
	frame := pdu.AppendHeaderOnly(nil, pdu.CmdSubmitSM, 0, seq)
	frame = append(frame, 'a', 0, 1, 1) // service_type, TONs, then nothing
	pdu.PatchLen(frame)
	c.write(frame)
	var m pdu.SM
	want := pdu.StatusOf(m.Decode(frame[pdu.HeaderLen:]))
	if want == pdu.StatusOK {
		t.Fatal("test frame decodes")
	}
	c.expect(pdu.CmdSubmitSMResp, want, seq)
	seq = c.submit("fine")
	c.expectSubmitResp(pdu.StatusOK, seq) // the session stayed, the handler saw only this one
}

func TestUnservedCommandsWhenBound(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	for _, id := range []pdu.CommandID{pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM, pdu.CmdSubmitMulti, pdu.CmdDataSM} {
		seq := c.send(id, 0, nil)
		c.expect(id.Resp(), pdu.StatusInvCmdID, seq)
	}
	for _, id := range []pdu.CommandID{pdu.CmdOutbind, pdu.CmdAlertNotification, 0x00000099, 0x80000099, 0x7FFFFFFF} {
		seq := c.send(id, 0, nil)
		c.expect(pdu.CmdGenericNack, pdu.StatusInvCmdID, seq)
	}
	seq := c.submit("still bound")
	c.expectSubmitResp(pdu.StatusOK, seq)
}

func TestClientUnbind(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b)
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	seq := c.send(pdu.CmdUnbind, 0, nil)
	c.expect(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	c.expectClosed(waitBound)
	if ev := recv(t, b.handler(t, "shop").closed, "Closed"); !errors.Is(ev.err, ErrUnbound) {
		t.Errorf("Closed(%v), want ErrUnbound", ev.err)
	}
}

func TestCommandLength(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{MaxLength: 4096}, newBinder())
	other := dial(t, ts.addr)
	other.bind(pdu.CmdBindTransmitter, "bank", "vault", pdu.StatusOK)
	for _, tc := range []struct {
		name   string
		length uint32
		bound  bool
	}{
		{"huge", 0xFFFFFFF0, true},
		{"over max", 4097, false},
		{"below 16", 8, true},
		{"zero", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			if tc.bound {
				c.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
			}
			h := pdu.Header{Length: tc.length, ID: pdu.CmdSubmitSM, Seq: 77}
			c.write(h.AppendTo(nil))
			c.expect(pdu.CmdGenericNack, pdu.StatusInvCmdLen, 77)
			c.expectClosed(waitBound)
			seq := other.submit("unaffected")
			other.expectSubmitResp(pdu.StatusOK, seq)
		})
	}
}

func TestBindTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{BindTimeout: 150 * time.Millisecond}, newBinder())
	idle := dial(t, ts.addr)
	half := dial(t, ts.addr)
	full := pdu.Append(nil, pdu.CmdBindTransmitter, 0, 1, bindPDU("shop", "secret"))
	half.write(full[:10])
	bound := dial(t, ts.addr)
	bound.bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	start := time.Now()
	idle.expectClosed(waitBound)
	half.expectClosed(waitBound)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("closed after %v, before the bind timeout", d)
	}
	// A bound session is past the bind timeout for good: quiet and open
	// well after its old deadline.
	if f, err := bound.readFrame(200 * time.Millisecond); !isTimeout(err) {
		t.Fatalf("bound session: frame %x, err %v; want neither", f, err)
	}
	bound.ping()
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{MaxConnections: 2}, newBinder())
	a := dial(t, ts.addr)
	a.bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	b := dial(t, ts.addr)
	b.ping() // accepted and counted
	over := dial(t, ts.addr)
	over.expectClosed(waitBound)
	a.ping()
	b.nc.Close()
	eventually(t, waitBound, func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return len(ts.sessions) == 1
	}, "closed connection forgotten")
	again := dial(t, ts.addr)
	again.bind(pdu.CmdBindTransmitter, "bank", "vault", pdu.StatusOK)
}

func TestTwoClientsSameSeqs(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	a := dial(t, ts.addr)
	b := dial(t, ts.addr)
	a.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	b.bind(pdu.CmdBindTransceiver, "bank", "vault", pdu.StatusOK)
	// Both clients use sequence numbers 2..11, interleaved.
	for range 10 {
		sa, sb := a.submit("a"), b.submit("b")
		if sa != sb {
			t.Fatalf("test clients out of step: %d %d", sa, sb)
		}
	}
	for seq := uint32(2); seq <= 11; seq++ {
		if id := a.expectSubmitResp(pdu.StatusOK, seq); id != "shop-"+itoa(seq) {
			t.Errorf("a got %q", id)
		}
		if id := b.expectSubmitResp(pdu.StatusOK, seq); id != "bank-"+itoa(seq) {
			t.Errorf("b got %q", id)
		}
	}
}

func TestIdleEnquireLinkThenDead(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{EnquireLink: 100 * time.Millisecond, ResponseTimeout: 100 * time.Millisecond}, b)
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindReceiver, "shop", "secret", pdu.StatusOK)
	h, _ := c.read()
	if h.ID != pdu.CmdEnquireLink {
		t.Fatalf("got %v, want enquire_link", h.ID)
	}
	c.write(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, 0, h.Seq)) // alive once
	h, _ = c.read()
	if h.ID != pdu.CmdEnquireLink {
		t.Fatalf("got %v, want a second enquire_link", h.ID)
	}
	c.expectClosed(waitBound) // silent now: dead after EnquireLink+ResponseTimeout
	if ev := recv(t, b.handler(t, "shop").closed, "Closed"); !errors.Is(ev.err, ErrDeadPeer) {
		t.Errorf("Closed(%v), want ErrDeadPeer", ev.err)
	}
}

func TestServeAfterClose(t *testing.T) {
	t.Parallel()
	srv := NewServer(Config{}, newBinder())
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener left open")
	}
}

// flakyListener fails its first Accept with a transient error.
type flakyListener struct {
	net.Listener
	failed atomic.Bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failed.CompareAndSwap(false, true) {
		return nil, errors.New("accept: too many open files")
	}
	return l.Listener.Accept()
}

func TestServeRetriesAcceptErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Logger: zaptest.NewLogger(t)}, newBinder())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(&flakyListener{Listener: ln}) }()
	c := dial(t, ln.Addr().String())
	c.bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed(waitBound)
	if err := recv(t, served, "Serve return"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b)
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	h := b.handler(t, "shop")
	s := recv(t, h.bound, "bind")
	// The client reads nothing more; the server keeps sending.
	big := pdu.Append(nil, pdu.CmdSubmitSMResp, 0, 1, &pdu.SMResp{MessageID: bytes.Repeat([]byte("x"), 60)})
	var err error
	for i := 0; i < 1<<20 && err == nil; i++ {
		err = s.Send(big)
	}
	if !errors.Is(err, ErrSlowConsumer) && !errors.Is(err, ErrClosed) {
		t.Fatalf("Send to a client that does not read: %v", err)
	}
	if ev := recv(t, h.closed, "Closed"); !errors.Is(ev.err, ErrSlowConsumer) {
		t.Errorf("Closed(%v), want ErrSlowConsumer", ev.err)
	}
	eventually(t, 5*time.Second, func() bool { return ts.Stats().SlowConsumers == 1 }, "the slow consumer counted")
}

func TestPerIPAndUnboundLimits(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		stat func(Stats) uint64
	}{
		{"per ip", Config{MaxPerIP: 2}, func(s Stats) uint64 { return s.RefusedPerIP }},
		{"unbound per ip", Config{MaxUnboundPerIP: 2}, func(s Stats) uint64 { return s.RefusedUnboundPerIP }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.cfg, newBinder())
			addr := srv.addr
			var open []net.Conn
			for i := 0; i < 2; i++ {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				open = append(open, nc)
			}
			eventually(t, 5*time.Second, func() bool { return srv.Stats().Connections == 2 }, "two connections")
			third, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer third.Close()
			_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := third.Read(make([]byte, 1)); err == nil {
				t.Fatal("connection over the limit was not closed")
			}
			if got := tc.stat(srv.Stats()); got != 1 {
				t.Fatalf("refusals counted: %d, want 1", got)
			}
			open[0].Close()
			eventually(t, 5*time.Second, func() bool { return srv.Stats().Connections == 1 }, "one connection")
			fourth, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer fourth.Close()
			eventually(t, 5*time.Second, func() bool { return srv.Stats().Connections == 2 }, "two connections")
		})
	}
}

// TestUnboundFloodEvictsOldest: addresses that keep connections open
// without binding fill max_unbound, yet a client that binds still gets in:
// the oldest unbound connection makes room, and each address holds at
// most max_unbound_per_ip of them.
func TestUnboundFloodEvictsOldest(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{MaxUnbound: 4, MaxUnboundPerIP: 2}, newBinder())
	from := func(last byte) net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, last)} }
	var flood []*client
	for _, ip := range []byte{2, 2, 3, 3} {
		flood = append(flood, dialFrom(t, ts.addr, from(ip)))
	}
	eventually(t, waitBound, func() bool { return ts.Stats().Unbound == 4 }, "four unbound connections")
	over := dialFrom(t, ts.addr, from(2)) // a third from 127.0.0.2
	over.expectClosed(waitBound)
	for i := range 3 {
		c := dialFrom(t, ts.addr, from(1))
		c.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
		flood[i].expectClosed(waitBound) // the oldest unbound made room
		if got := ts.Stats().EvictedUnbound; got != uint64(i+1) {
			t.Fatalf("evicted %d, want %d", got, i+1)
		}
		// The flood fills the room again from a new address.
		flood = append(flood, dialFrom(t, ts.addr, from(byte(4+i))))
		eventually(t, waitBound, func() bool { return ts.Stats().Unbound == 4 }, "four unbound connections")
	}
	st := ts.Stats()
	if st.RefusedUnboundPerIP != 1 || st.Unbound != 4 || st.Connections != 7 {
		t.Errorf("stats %+v: want 1 refused per IP, 4 unbound, 7 connections", st)
	}
}
