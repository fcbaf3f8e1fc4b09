package esme_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func receiptSM() *pdu.SM {
	return &pdu.SM{DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"), RegisteredDelivery: 1, ShortMessage: []byte("hi")}
}

// TestClient binds, submits with Submit and with Go, gets the receipts
// answered by Ack and counted by Acked, and refuses a wrong password.
func TestClient(t *testing.T) {
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))
	acked := make(chan []byte, 2)
	c, err := esme.Dial(srv.Addr(), "acct", "pw", esme.Options{Buffer: -1, Acked: func(f []byte, st pdu.Status) {
		if st == pdu.StatusOK {
			acked <- f
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), esme.Wait)
	defer cancel()
	if st, id, err := c.Submit(ctx, receiptSM()); err != nil || st != pdu.StatusOK || id == "" {
		t.Fatalf("Submit = %v %q %v", st, id, err)
	}
	answered := make(chan []byte, 1)
	if _, err := c.Go(pdu.CmdSubmitSM, receiptSM(), func(resp []byte) { answered <- resp }); err != nil {
		t.Fatal(err)
	}
	if resp := <-answered; pdu.ID(resp) != pdu.CmdSubmitSMResp {
		t.Fatalf("Go answered with %v", pdu.ID(resp))
	}
	for range 2 {
		select {
		case f := <-acked:
			if id, ok := pdu.PeekReceiptedMessageID(f); !ok || len(id) == 0 {
				t.Fatalf("acked a deliver_sm that is not a receipt: % x", f)
			}
		case <-time.After(esme.Wait):
			t.Fatal("receipts not acked")
		}
	}
	eventually.That(t, esme.Wait, "the simulator counts both receipts acked", func() bool { return srv.Stats().DLRsAcked == 2 })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Go(pdu.CmdEnquireLink, nil, func([]byte) {}); !errors.Is(err, esme.ErrClosed) {
		t.Fatalf("Go after Close: %v", err)
	}

	_, err = esme.Dial(srv.Addr(), "acct", "nope", esme.Options{})
	var se *pdu.StatusError
	if !errors.As(err, &se) || se.Status != pdu.StatusInvPassword {
		t.Fatalf("Dial with a wrong password: %v", err)
	}
}

// TestStallReads: a stalled client answers nothing more, so a receipt
// sent to it stays unacknowledged until it is dropped.
func TestStallReads(t *testing.T) {
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"), simtest.DLRDelay(500*time.Millisecond))
	c, err := esme.Dial(srv.Addr(), "acct", "pw", esme.Options{Buffer: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), esme.Wait)
	defer cancel()
	if st, _, err := c.Submit(ctx, receiptSM()); err != nil || st != pdu.StatusOK {
		t.Fatalf("Submit = %v %v", st, err)
	}
	c.StallReads()
	eventually.That(t, esme.Wait, "the receipt sent", func() bool { return srv.Stats().DLRsSent == 1 })
	if n := srv.Stats().DLRsAcked; n != 0 {
		t.Fatalf("a stalled client acked %d receipts", n)
	}
	if err := c.Drop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open after Drop")
	}
}

// TestConn covers both reading modes: in the background, receipts are
// acked while the test waits elsewhere; read when asked, a refused bind
// is seen, then the close.
func TestConn(t *testing.T) {
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))

	bg := esme.DialConn(t, srv.Addr(), esme.ConnOptions{Background: true, AckDeliver: true, AnswerUnbind: true})
	bg.Bind(pdu.CmdBindTransceiver, "acct", "pw", pdu.StatusOK)
	id := bg.Submit(receiptSM()).MessageID(t)
	eventually.That(t, esme.Wait, "the receipt acked by the reader", func() bool { return srv.Stats().DLRsAcked == 1 })
	if r, err := pdu.ParseReceipt(bg.Deliver().SM(t).ShortMessage); err != nil || r.ID != id {
		t.Fatalf("receipt %+v %v, want one for %s", r, err, id)
	}
	bg.Ping()

	sync := esme.DialConn(t, srv.Addr(), esme.ConnOptions{})
	sync.Bind(pdu.CmdBindTransmitter, "acct", "nope", pdu.StatusInvPassword)
	sync.ExpectClosed(esme.Wait)
}

// TestBatchAcks: two deliver_sm that arrive in one read are answered
// together, after both are read, when BatchAcks is set; one by one
// without it.
func TestBatchAcks(t *testing.T) {
	for _, batch := range []bool{false, true} {
		want := "ack 1, acked 1, ack 2, acked 2"
		if batch {
			want = "ack 1, ack 2, acked 1, acked 2"
		}
		events := make(chan string, 4)
		addr := twoDeliveries(t)
		c, err := esme.Dial(addr, "acct", "pw", esme.Options{Buffer: -1, BatchAcks: batch,
			Ack:   func(f []byte) pdu.Status { events <- fmt.Sprintf("ack %d", pdu.Seq(f)); return pdu.StatusOK },
			Acked: func(f []byte, _ pdu.Status) { events <- fmt.Sprintf("acked %d", pdu.Seq(f)) },
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for range 4 {
			got = append(got, eventually.Recv(t, events, esme.Wait, "an Ack or Acked call"))
		}
		if g := strings.Join(got, ", "); g != want {
			t.Errorf("BatchAcks %v: %s, want %s", batch, g, want)
		}
		if err := c.Drop(); err != nil {
			t.Fatal(err)
		}
	}
}

// twoDeliveries serves one connection: it answers the bind with a
// bind_transceiver_resp and two deliver_sm (sequence numbers 1 and 2)
// in one write, then reads until the client closes.
func twoDeliveries(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		bind, err := pdu.ReadFrame(nc, nil, pdu.DefaultMaxLength)
		if err != nil {
			return
		}
		out := pdu.Append(nil, pdu.CmdBindTransceiverResp, pdu.StatusOK, pdu.Seq(bind), &pdu.BindResp{SystemID: []byte("sim")})
		for seq := range uint32(2) {
			out = pdu.Append(out, pdu.CmdDeliverSM, pdu.StatusOK, seq+1, receiptSM())
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, nc)
	}()
	return ln.Addr().String()
}
