package downstream

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// deliverFrame is a deliver_sm frame with sequence number 0.
func deliverFrame(text string) []byte {
	return pdu.Append(nil, pdu.CmdDeliverSM, 0, 0, &pdu.SM{SourceAddr: []byte("4512345678"), DestAddr: []byte("shop"), ShortMessage: []byte(text)})
}

func TestDeliverWindow(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{Window: 3, ResponseTimeout: 200 * time.Millisecond}, b)
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	h := b.handler(t, "shop")
	s := eventually.Recv(t, h.bound, waitBound, "bind")

	frame := deliverFrame("hello")
	for _, ref := range []string{"r1", "r2", "r3"} {
		if err := s.Deliver(frame, ref); err != nil {
			t.Fatalf("Deliver(%s): %v", ref, err)
		}
	}
	if err := s.Deliver(frame, "r4"); !errors.Is(err, ErrWindowFull) || s.WindowFree() != 0 {
		t.Fatalf("Deliver over the window: %v, free %d", err, s.WindowFree())
	}
	var seqs []uint32
	for range 3 {
		hd := c.Read()
		if hd.ID != pdu.CmdDeliverSM || !bytes.Equal(hd.Raw[pdu.HeaderLen:], frame[pdu.HeaderLen:]) {
			t.Fatalf("got %v % x", hd.ID, hd.Raw)
		}
		seqs = append(seqs, hd.Seq)
	}
	if seqs[0] == seqs[1] || seqs[1] == seqs[2] || seqs[0] == seqs[2] || seqs[0] == 0 {
		t.Fatalf("deliver_sm seqs %v", seqs)
	}
	c.Write(pdu.AppendHeaderOnly(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, 999999)) // unknown: ignored
	c.Write(pdu.Append(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, seqs[0], &pdu.SMResp{}))
	c.Write(pdu.AppendHeaderOnly(nil, pdu.CmdGenericNack, pdu.StatusInvCmdID, seqs[1]))
	want := []delivery{{"r1", pdu.StatusOK, nil}, {"r2", pdu.StatusInvCmdID, nil}, {"r3", 0, ErrTimeout}}
	for _, w := range want {
		if d := eventually.Recv(t, h.delivered, waitBound, "Delivered"); d.ref != w.ref || d.status != w.status || !errors.Is(d.err, w.err) {
			t.Errorf("Delivered(%q, %v, %v), want (%q, %v, %v)", d.ref, d.status, d.err, w.ref, w.status, w.err)
		}
	}
	if s.WindowFree() != 3 {
		t.Errorf("free %d after all answered", s.WindowFree())
	}

	if err := s.Deliver(frame, "r5"); err != nil {
		t.Fatal(err)
	}
	expectDeliver(t, c)
	c.NetConn().Close()
	ev := eventually.Recv(t, h.closed, waitBound, "Closed")
	select {
	case d := <-h.delivered:
		if d.ref != "r5" || !errors.Is(d.err, ErrClosed) {
			t.Errorf("Delivered(%q, %v), want r5 ErrClosed", d.ref, d.err)
		}
	default:
		t.Error("Closed before the window was drained")
	}
	if ev.s != s {
		t.Error("Closed for another session")
	}
	if err := s.Deliver(frame, "r6"); !errors.Is(err, ErrClosed) {
		t.Errorf("Deliver after close: %v", err)
	}
	if err := s.Send(pdu.AppendHeaderOnly(nil, pdu.CmdSubmitSMResp, 0, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after close: %v", err)
	}
}

// expectDeliver reads the next frame and fails t unless it is a
// deliver_sm.
func expectDeliver(t *testing.T, c *esme.Conn) esme.Frame {
	t.Helper()
	f := c.Read()
	if f.ID != pdu.CmdDeliverSM {
		t.Fatalf("got %v, want deliver_sm", f.ID)
	}
	return f
}

func TestDeliverRefused(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b)
	tx := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	tx.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	s := eventually.Recv(t, b.handler(t, "shop").bound, waitBound, "bind")
	if err := s.Deliver(deliverFrame("x"), "r"); !errors.Is(err, ErrNotReceiver) {
		t.Errorf("Deliver to a transmitter: %v", err)
	}
	rx := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	rx.Bind(pdu.CmdBindReceiver, "bank", "vault", pdu.StatusOK)
	s = eventually.Recv(t, b.handler(t, "bank").bound, waitBound, "bind")
	bad := deliverFrame("x")
	for name, f := range map[string][]byte{
		"short":     bad[:10],
		"length":    append(bad[:len(bad):len(bad)], 0),
		"submit_sm": pdu.AppendHeaderOnly(nil, pdu.CmdSubmitSM, 0, 0),
	} {
		if err := s.Deliver(f, "r"); !errors.Is(err, ErrBadFrame) {
			t.Errorf("Deliver(%s): %v", name, err)
		}
	}
	if err := s.Send(bad[:10]); !errors.Is(err, ErrBadFrame) {
		t.Errorf("Send(short): %v", err)
	}
	if err := s.Deliver(deliverFrame("y"), "ok"); err != nil {
		t.Fatal(err)
	}
	h := expectDeliver(t, rx)
	rx.Write(pdu.AppendHeaderOnly(nil, pdu.CmdDeliverSMResp, 0, h.Seq))
	if d := eventually.Recv(t, b.handler(t, "bank").delivered, waitBound, "Delivered"); d.ref != "ok" || d.err != nil {
		t.Errorf("Delivered(%q, %v)", d.ref, d.err)
	}
}

func TestShutdownUnbinds(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{ResponseTimeout: 300 * time.Millisecond}, b)
	polite := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	polite.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	rude := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	rude.Bind(pdu.CmdBindTransmitter, "bank", "vault", pdu.StatusOK)
	unbound := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	unbound.Ping()
	shop := b.handler(t, "shop")
	s := eventually.Recv(t, shop.bound, waitBound, "bind")
	if err := s.Deliver(deliverFrame("report"), "pending"); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- ts.shutdown(waitBound) }()

	d := expectDeliver(t, polite)
	h := polite.Read()
	if h.ID != pdu.CmdUnbind {
		t.Fatalf("got %v, want unbind", h.ID)
	}
	if err := s.Deliver(deliverFrame("late"), "late"); !errors.Is(err, ErrClosed) {
		t.Errorf("Deliver while unbinding: %v", err)
	}
	seq := polite.Send(pdu.CmdSubmitSM, submitBody("late"))
	polite.Expect(pdu.CmdSubmitSMResp, pdu.StatusMsgQueueFull, seq) // temporary: submit again later
	polite.Write(pdu.AppendHeaderOnly(nil, pdu.CmdDeliverSMResp, 0, d.Seq))
	polite.Write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, 0, h.Seq))
	polite.ExpectClosed(waitBound)

	if h := rude.Read(); h.ID != pdu.CmdUnbind {
		t.Fatalf("got %v, want unbind", h.ID)
	}
	rude.ExpectClosed(waitBound) // after the unbind wait
	unbound.ExpectClosed(waitBound)

	if err := eventually.Recv(t, done, waitBound, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := eventually.Recv(t, shop.delivered, waitBound, "Delivered"); d.ref != "pending" || d.err != nil {
		t.Errorf("Delivered(%q, %v)", d.ref, d.err)
	}
	for _, id := range []string{"shop", "bank"} {
		if ev := eventually.Recv(t, b.handler(t, id).closed, waitBound, "Closed"); !errors.Is(ev.err, ErrUnbound) {
			t.Errorf("%s Closed(%v), want ErrUnbound", id, ev.err)
		}
	}
}

func TestShutdownContextExpires(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{}, b) // unbind waits 5s
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	start := time.Now()
	if err := ts.shutdown(100 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if h := c.Read(); h.ID != pdu.CmdUnbind {
		t.Fatalf("got %v, want unbind", h.ID)
	}
	c.ExpectClosed(waitBound)
	if ev := eventually.Recv(t, b.handler(t, "shop").closed, waitBound, "Closed"); !errors.Is(ev.err, ErrServerClosed) {
		t.Errorf("Closed(%v), want ErrServerClosed", ev.err)
	}
}

func TestHandlerPanicClosesOneSession(t *testing.T) {
	t.Parallel()
	b := newBinder()
	var panicked atomic.Bool
	b.onDelivered = func() {
		if panicked.CompareAndSwap(false, true) {
			panic("delivered panic")
		}
	}
	ts := startServer(t, Config{ResponseTimeout: 100 * time.Millisecond}, b)
	bystander := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	bystander.Bind(pdu.CmdBindTransmitter, "bank", "vault", pdu.StatusOK)

	// A panic on the read goroutine (Submit).
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	shop := b.handler(t, "shop")
	eventually.Recv(t, shop.bound, waitBound, "bind")
	c.Send(pdu.CmdSubmitSM, submitBody("panic"))
	c.ExpectClosed(waitBound)
	if ev := eventually.Recv(t, shop.closed, waitBound, "Closed"); ev.err == nil || !strings.Contains(ev.err.Error(), "submit panic") {
		t.Errorf("Closed(%v), want the panic", ev.err)
	}

	// A panic on link's timer (Delivered on timeout).
	c = esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	s := eventually.Recv(t, shop.bound, waitBound, "bind")
	if err := s.Deliver(deliverFrame("x"), "boom"); err != nil {
		t.Fatal(err)
	}
	expectDeliver(t, c)
	c.ExpectClosed(waitBound)
	if ev := eventually.Recv(t, shop.closed, waitBound, "Closed"); ev.err == nil || !strings.Contains(ev.err.Error(), "delivered panic") {
		t.Errorf("Closed(%v), want the panic", ev.err)
	}

	seq := bystander.Send(pdu.CmdSubmitSM, submitBody("fine"))
	bystander.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).MessageID(t)
}

func TestSubmitErrorClosesSession(t *testing.T) {
	t.Parallel()
	b := newBinder()
	errRule := errors.New("rule failed")
	b.onSubmit = func(*Session, []byte) error { return errRule }
	ts := startServer(t, Config{}, b)
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)
	c.Send(pdu.CmdSubmitSM, submitBody("x"))
	c.ExpectClosed(waitBound)
	if ev := eventually.Recv(t, b.handler(t, "shop").closed, waitBound, "Closed"); !errors.Is(ev.err, errRule) {
		t.Errorf("Closed(%v)", ev.err)
	}
}

// A client that unbinds with deliver_sm unanswered, then answers them (a
// batching or slow client: here a second later, past the half second the
// connection lingered before), has its answers taken: each is Delivered
// as acknowledged, not released to be sent again after its next bind. No
// new deliver_sm goes out after its unbind, and the connection closes
// once the last answer is in.
func TestAnswersAfterClientUnbind(t *testing.T) {
	t.Parallel()
	b := newBinder()
	ts := startServer(t, Config{Window: 4, ResponseTimeout: 5 * time.Second}, b)
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	h := b.handler(t, "shop")
	s := eventually.Recv(t, h.bound, waitBound, "bind")
	for _, ref := range []string{"r1", "r2"} {
		if err := s.Deliver(deliverFrame(ref), ref); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint32
	for range 2 {
		hd := c.Read()
		seqs = append(seqs, hd.Seq)
	}
	useq := c.Send(pdu.CmdUnbind, nil)
	c.Expect(pdu.CmdUnbindResp, pdu.StatusOK, useq)
	if err := s.Deliver(deliverFrame("r3"), "r3"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Deliver after the client's unbind: %v, want ErrClosed", err)
	}
	time.Sleep(time.Second)
	for _, seq := range seqs {
		c.Write(pdu.Append(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, seq, &pdu.SMResp{}))
	}
	for range 2 {
		if d := eventually.Recv(t, h.delivered, waitBound, "Delivered"); d.status != pdu.StatusOK || d.err != nil {
			t.Errorf("Delivered(%q, %v, %v), want acknowledged", d.ref, d.status, d.err)
		}
	}
	c.ExpectClosed(waitBound)
	if ev := eventually.Recv(t, h.closed, waitBound, "Closed"); !errors.Is(ev.err, ErrUnbound) {
		t.Errorf("Closed(%v), want ErrUnbound", ev.err)
	}
}
