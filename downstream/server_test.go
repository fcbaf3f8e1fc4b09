package downstream

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
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
				c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
				r := c.Bind(id, tc.systemID, tc.password, tc.want).BindResp(t)
				if string(r.SystemID) != "smpp-mux" {
					t.Errorf("system_id %q, want smpp-mux", r.SystemID)
				}
				if len(r.TLVs) != 0 {
					t.Errorf("refused bind_resp has TLVs % x", []byte(r.TLVs))
				}
				c.ExpectClosed(waitBound)
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
				c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
				b := esme.BindRequest("shop", "secret")
				b.InterfaceVersion = tc.version
				seq := c.Send(id, b)
				f := c.Expect(id.Resp(), pdu.StatusOK, seq)
				var r pdu.BindResp
				if err := r.Decode(f.Raw[pdu.HeaderLen:]); err != nil {
					t.Fatal(err)
				}
				v, ok := r.TLVs.Byte(pdu.TagSCInterfaceVersion)
				if string(r.SystemID) != "smpp-mux" || ok != tc.wantTLV || ok && v != 0x34 || !ok && len(r.TLVs) != 0 {
					t.Errorf("bind_resp system_id %q TLVs % x", r.SystemID, []byte(r.TLVs))
				}
				c.Ping() // the session stays
			})
		}
	}
}

func TestSessionAccessors(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b)
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	s := eventually.Recv(t, b.handler(t, "shop").bound, waitBound, "bind")
	eventually.That(t, waitBound, "one session listed", func() bool { return len(ts.Sessions()) == 1 })
	got := ts.Sessions()[0]
	if got != s || s.SystemID() != "shop" || s.Type() != Transceiver || s.Type().String() != "transceiver" ||
		s.RemoteAddr().String() != c.NetConn().LocalAddr().String() || s.ID() == 0 || s.Logger() == nil || s.WindowFree() != 10 {
		t.Errorf("session %d %q %v %v free %d", s.ID(), s.SystemID(), s.Type(), s.RemoteAddr(), s.WindowFree())
	}
}

func TestSecondBindAlreadyBound(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusAlreadyBound)
	c.Bind(pdu.CmdBindReceiver, "bank", "vault", pdu.StatusAlreadyBound)
	seq := c.Send(pdu.CmdSubmitSM, submitBody("still here"))
	if id := c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).MessageID(t); id != "shop-"+itoa(seq) {
		t.Errorf("message_id %q", id)
	}
}

func TestBeforeBind(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Ping()
	seq := c.Send(pdu.CmdSubmitSM, submitBody("early"))
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusInvBindStatus, seq)
	for _, id := range []pdu.CommandID{pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM, pdu.CmdSubmitMulti, pdu.CmdDataSM, pdu.CmdDeliverSM} {
		seq := c.Send(id, nil)
		c.Expect(id.Resp(), pdu.StatusInvBindStatus, seq)
	}
	for _, id := range []pdu.CommandID{pdu.CmdOutbind, pdu.CmdAlertNotification} {
		seq := c.Send(id, nil)
		c.Expect(pdu.CmdGenericNack, pdu.StatusInvBindStatus, seq)
	}
	seq = c.Send(pdu.CommandID(0x00000099), nil)
	c.Expect(pdu.CmdGenericNack, pdu.StatusInvCmdID, seq)
	c.Send(pdu.CmdDeliverSMResp, nil) // a stray response: ignored
	c.Ping()
	c.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
}

func TestUnbindBeforeBind(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	seq := c.Send(pdu.CmdUnbind, nil)
	c.Expect(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	c.ExpectClosed(waitBound)
}

func TestReceiverSubmit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindReceiver, "shop", "secret", pdu.StatusOK)
	seq := c.Send(pdu.CmdSubmitSM, submitBody("not allowed"))
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusInvBindStatus, seq)
	c.Ping()
}

func TestSubmitMalformedBody(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	long := submitBody("x")
	long.DestAddr = bytes.Repeat([]byte("4"), 30)
	seq := c.Send(pdu.CmdSubmitSM, long)
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusInvDstAddr, seq)
	// A body cut short: command_length fits the frame, the fields do not.
	seq = c.NextSeq()
	frame := pdu.AppendHeaderOnly(nil, pdu.CmdSubmitSM, 0, seq)
	frame = append(frame, 'a', 0, 1, 1) // service_type, TONs, then nothing
	pdu.PatchLen(frame)
	c.Write(frame)
	var m pdu.SM
	want := pdu.StatusOf(m.Decode(frame[pdu.HeaderLen:]))
	if want == pdu.StatusOK {
		t.Fatal("test frame decodes")
	}
	c.Expect(pdu.CmdSubmitSMResp, want, seq)
	seq = c.Send(pdu.CmdSubmitSM, submitBody("fine"))
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).MessageID(t) // the session stayed, the handler saw only this one
}

func TestUnservedCommandsWhenBound(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	for _, id := range []pdu.CommandID{pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM, pdu.CmdSubmitMulti, pdu.CmdDataSM} {
		seq := c.Send(id, nil)
		c.Expect(id.Resp(), pdu.StatusInvCmdID, seq)
	}
	for _, id := range []pdu.CommandID{pdu.CmdOutbind, pdu.CmdAlertNotification, 0x00000099, 0x80000099, 0x7FFFFFFF} {
		seq := c.Send(id, nil)
		c.Expect(pdu.CmdGenericNack, pdu.StatusInvCmdID, seq)
	}
	seq := c.Send(pdu.CmdSubmitSM, submitBody("still bound"))
	c.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).MessageID(t)
}

func TestClientUnbind(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b)
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	seq := c.Send(pdu.CmdUnbind, nil)
	c.Expect(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	c.ExpectClosed(waitBound)
	if ev := eventually.Recv(t, b.handler(t, "shop").closed, waitBound, "Closed"); !errors.Is(ev.err, ErrUnbound) {
		t.Errorf("Closed(%v), want ErrUnbound", ev.err)
	}
}

func TestCommandLength(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{MaxLength: 4096}, newBinder())
	other := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	other.Bind(pdu.CmdBindTransmitter, "bank", "vault", pdu.StatusOK)
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
			c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
			if tc.bound {
				c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
			}
			h := pdu.Header{Length: tc.length, ID: pdu.CmdSubmitSM, Seq: 77}
			c.Write(h.AppendTo(nil))
			c.Expect(pdu.CmdGenericNack, pdu.StatusInvCmdLen, 77)
			c.ExpectClosed(waitBound)
			seq := other.Send(pdu.CmdSubmitSM, submitBody("unaffected"))
			other.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).MessageID(t)
		})
	}
}

func TestBindTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{BindTimeout: 150 * time.Millisecond}, newBinder())
	idle := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	half := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	full := pdu.Append(nil, pdu.CmdBindTransmitter, 0, 1, esme.BindRequest("shop", "secret"))
	half.Write(full[:10])
	bound := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	bound.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	start := time.Now()
	idle.ExpectClosed(waitBound)
	half.ExpectClosed(waitBound)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("closed after %v, before the bind timeout", d)
	}
	// A bound session is past the bind timeout for good: quiet and open
	// well after its old deadline.
	if f, err := bound.ReadFrame(200 * time.Millisecond); !esme.IsTimeout(err) {
		t.Fatalf("bound session: frame %x, err %v; want neither", f, err)
	}
	bound.Ping()
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{MaxConnections: 2}, newBinder())
	a := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	a.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	b := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	b.Ping() // accepted and counted
	over := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	over.ExpectClosed(waitBound)
	a.Ping()
	b.NetConn().Close()
	eventually.That(t, waitBound, "closed connection forgotten", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return len(ts.sessions) == 1
	})
	again := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	again.Bind(pdu.CmdBindTransmitter, "bank", "vault", pdu.StatusOK)
}

func TestTwoClientsSameSeqs(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newBinder())
	a := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	b := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	a.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	b.Bind(pdu.CmdBindTransceiver, "bank", "vault", pdu.StatusOK)
	// Both clients use sequence numbers 2..11, interleaved.
	for range 10 {
		sa, sb := a.Send(pdu.CmdSubmitSM, submitBody("a")), b.Send(pdu.CmdSubmitSM, submitBody("b"))
		if sa != sb {
			t.Fatalf("test clients out of step: %d %d", sa, sb)
		}
	}
	for seq := uint32(2); seq <= 11; seq++ {
		if id := a.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).MessageID(t); id != "shop-"+itoa(seq) {
			t.Errorf("a got %q", id)
		}
		if id := b.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).MessageID(t); id != "bank-"+itoa(seq) {
			t.Errorf("b got %q", id)
		}
	}
}

func TestIdleEnquireLinkThenDead(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{EnquireLink: 100 * time.Millisecond, ResponseTimeout: 100 * time.Millisecond}, b)
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindReceiver, "shop", "secret", pdu.StatusOK)
	h := c.Read()
	if h.ID != pdu.CmdEnquireLink {
		t.Fatalf("got %v, want enquire_link", h.ID)
	}
	c.Write(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, 0, h.Seq)) // alive once
	h = c.Read()
	if h.ID != pdu.CmdEnquireLink {
		t.Fatalf("got %v, want a second enquire_link", h.ID)
	}
	c.ExpectClosed(waitBound) // silent now: dead after EnquireLink+ResponseTimeout
	if ev := eventually.Recv(t, b.handler(t, "shop").closed, waitBound, "Closed"); !errors.Is(ev.err, ErrDeadPeer) {
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
	c := esme.DialConn(t, ln.Addr().String(), esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	c.ExpectClosed(waitBound)
	if err := eventually.Recv(t, served, waitBound, "Serve return"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b)
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	h := b.handler(t, "shop")
	s := eventually.Recv(t, h.bound, waitBound, "bind")
	// The client reads nothing more; the server keeps sending.
	big := pdu.Append(nil, pdu.CmdSubmitSMResp, 0, 1, &pdu.SMResp{MessageID: bytes.Repeat([]byte("x"), 60)})
	var err error
	for i := 0; i < 1<<20 && err == nil; i++ {
		err = s.Send(big)
	}
	if !errors.Is(err, ErrSlowConsumer) && !errors.Is(err, ErrClosed) {
		t.Fatalf("Send to a client that does not read: %v", err)
	}
	if ev := eventually.Recv(t, h.closed, waitBound, "Closed"); !errors.Is(ev.err, ErrSlowConsumer) {
		t.Errorf("Closed(%v), want ErrSlowConsumer", ev.err)
	}
	eventually.That(t, 5*time.Second, "the slow consumer counted", func() bool { return ts.Stats().SlowConsumers == 1 })
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
			eventually.That(t, 5*time.Second, "two connections", func() bool { return srv.Stats().Connections == 2 })
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
			eventually.That(t, 5*time.Second, "one connection", func() bool { return srv.Stats().Connections == 1 })
			fourth, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer fourth.Close()
			eventually.That(t, 5*time.Second, "two connections", func() bool { return srv.Stats().Connections == 2 })
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
	var flood []*esme.Conn
	for _, ip := range []byte{2, 2, 3, 3} {
		flood = append(flood, esme.DialConn(t, ts.addr, esme.ConnOptions{LocalAddr: from(ip)}))
	}
	eventually.That(t, waitBound, "four unbound connections", func() bool { return ts.Stats().Unbound == 4 })
	over := esme.DialConn(t, ts.addr, esme.ConnOptions{LocalAddr: from(2)}) // a third from 127.0.0.2
	over.ExpectClosed(waitBound)
	for i := range 3 {
		c := esme.DialConn(t, ts.addr, esme.ConnOptions{LocalAddr: from(1)})
		c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
		flood[i].ExpectClosed(waitBound) // the oldest unbound made room
		if got := ts.Stats().EvictedUnbound; got != uint64(i+1) {
			t.Fatalf("evicted %d, want %d", got, i+1)
		}
		// The flood fills the room again from a new address.
		flood = append(flood, esme.DialConn(t, ts.addr, esme.ConnOptions{LocalAddr: from(byte(4 + i))}))
		// Both counts: a bind answered but not yet marked bound still
		// counts as unbound, before the new flood connection is accepted.
		eventually.That(t, waitBound, "four unbound and the bound connections", func() bool {
			st := ts.Stats()
			return st.Unbound == 4 && st.Connections == 4+i+1
		})
	}
	st := ts.Stats()
	if st.RefusedUnboundPerIP != 1 || st.Unbound != 4 || st.Connections != 7 {
		t.Errorf("stats %+v: want 1 refused per IP, 4 unbound, 7 connections", st)
	}
}
