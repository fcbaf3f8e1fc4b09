package link

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/pdu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo answers every request with its response id and status 0.
type echo struct{}

func (echo) HandleFrame(c *Conn, frame []byte) error {
	id := pdu.ID(frame)
	if id.IsResp() {
		return nil
	}
	var b [pdu.HeaderLen]byte
	return c.Send(pdu.AppendHeaderOnly(b[:0], id.Resp(), pdu.StatusOK, pdu.Seq(frame)))
}

// serve runs a Conn over one end of a loopback pair and returns the other
// end and a channel with Serve's result.
func serve(t *testing.T, cfg Config, h Handler) (net.Conn, *Conn, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := New(nc, cfg)
	done := make(chan error, 1)
	go func() { done <- c.Serve(context.Background(), h) }()
	t.Cleanup(func() {
		peer.Close()
		c.Close(ErrClosed)
		<-c.Done()
	})
	_ = peer.SetDeadline(time.Now().Add(5 * time.Second))
	return peer, c, done
}

func readFrame(t *testing.T, r *bufio.Reader) pdu.Header {
	t.Helper()
	f, err := pdu.ReadFrame(r, nil, 1<<16)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	h, _ := pdu.DecodeHeader(f)
	return h
}

func TestEnquireLinkAndRequests(t *testing.T) {
	peer, _, _ := serve(t, Config{}, echo{})
	r := bufio.NewReader(peer)
	var out []byte
	out = pdu.AppendHeaderOnly(out, pdu.CmdEnquireLink, 0, 5)
	out = pdu.AppendHeaderOnly(out, pdu.CmdUnbind, 0, 6)
	if _, err := peer.Write(out); err != nil {
		t.Fatal(err)
	}
	if h := readFrame(t, r); h.ID != pdu.CmdEnquireLinkResp || h.Seq != 5 {
		t.Fatalf("got %+v, want enquire_link_resp seq 5", h)
	}
	if h := readFrame(t, r); h.ID != pdu.CmdUnbindResp || h.Seq != 6 {
		t.Fatalf("got %+v, want unbind_resp seq 6", h)
	}
}

func TestLengthErrorNacksThenCloses(t *testing.T) {
	peer, _, done := serve(t, Config{MaxLength: 1024}, echo{})
	r := bufio.NewReader(peer)
	bad := pdu.Header{Length: 1 << 30, ID: pdu.CmdSubmitSM, Seq: 77}.AppendTo(nil)
	if _, err := peer.Write(bad); err != nil {
		t.Fatal(err)
	}
	if h := readFrame(t, r); h.ID != pdu.CmdGenericNack || h.Status != pdu.StatusInvCmdLen || h.Seq != 77 {
		t.Fatalf("got %+v, want generic_nack 0x02 seq 77", h)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection still open")
	}
	select {
	case err := <-done:
		if !errors.Is(err, pdu.ErrTooLong) {
			t.Fatalf("Serve = %v, want ErrTooLong", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestIdlePingThenDead(t *testing.T) {
	peer, _, done := serve(t, Config{EnquireLink: 50 * time.Millisecond, DeadAfter: 300 * time.Millisecond, Tick: 10 * time.Millisecond}, echo{})
	r := bufio.NewReader(peer)
	if h := readFrame(t, r); h.ID != pdu.CmdEnquireLink {
		t.Fatalf("got %+v, want enquire_link", h)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrDeadPeer) {
			t.Fatalf("Serve = %v, want ErrDeadPeer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dead peer not detected")
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	_, c, done := serve(t, Config{MaxQueued: 64}, echo{})
	var b [pdu.HeaderLen]byte
	frame := pdu.AppendHeaderOnly(b[:0], pdu.CmdEnquireLink, 0, 1)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = c.Send(frame)
	}
	if err == nil {
		t.Skip("the kernel took everything; nothing to test")
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrQueueFull) && !errors.Is(err, ErrClosed) {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slow consumer not closed")
	}
}

func TestNextSeqWraps(t *testing.T) {
	c := New(nil, Config{})
	c.seq.Store(pdu.MaxSeq - 1)
	if s := c.NextSeq(); s != pdu.MaxSeq {
		t.Fatalf("got %#x", s)
	}
	if s := c.NextSeq(); s != 1 {
		t.Fatalf("after MaxSeq got %#x, want 1", s)
	}
}

func TestWindow(t *testing.T) {
	w := NewWindow[string](2)
	now := time.Now()
	if !w.Add(1, "a", now.Add(-time.Second)) || !w.Add(2, "b", now.Add(time.Hour)) {
		t.Fatal("Add failed")
	}
	if w.Add(3, "c", now) {
		t.Fatal("window over capacity")
	}
	var expired []string
	w.Expire(now, func(_ uint32, v string) { expired = append(expired, v) })
	if len(expired) != 1 || expired[0] != "a" {
		t.Fatalf("expired %v", expired)
	}
	if v, ok := w.Take(2); !ok || v != "b" || w.Len() != 0 {
		t.Fatal("Take")
	}
}
