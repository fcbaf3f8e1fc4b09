package sim_test

import (
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// collect reads n deliver_sm in all from the clients, in arrival order
// per client, and returns them by client index.
func collect(t *testing.T, n int, clients ...*esme.Conn) [][]esme.Frame {
	t.Helper()
	out := make([][]esme.Frame, len(clients))
	isDeliver := func(f esme.Frame) bool { return f.ID == pdu.CmdDeliverSM }
	deadline := time.Now().Add(wait)
	for got := 0; got < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliver_sm within %v", got, n, wait)
		}
		for i, c := range clients { // a short look at each, in turn
			if f, ok := c.TryNext(isDeliver, time.Millisecond); ok {
				out[i] = append(out[i], f)
				got++
			}
		}
	}
	return out
}

// checkReceipt checks a receipt against the submit it reports on.
func checkReceipt(t *testing.T, f esme.Frame, msgID, stat string, state byte, umr uint16) {
	t.Helper()
	m := f.SM(t)
	if m.ESMClass != pdu.ESMClassReceipt || m.DataCoding != 3 {
		t.Errorf("esm_class %#x data_coding %d, want 0x04 and 3", m.ESMClass, m.DataCoding)
	}
	if string(m.SourceAddr) != "4512345678" || m.SourceTON != 1 || string(m.DestAddr) != "Shop" || m.DestTON != 5 {
		t.Errorf("addresses %d/%q -> %d/%q not swapped from the submit", m.SourceTON, m.SourceAddr, m.DestTON, m.DestAddr)
	}
	if id, _ := m.TLVs.Lookup(pdu.TagReceiptedMessageID); string(id) != msgID+"\x00" {
		t.Errorf("receipted_message_id %q, want %q and a NUL", id, msgID)
	}
	if st, _ := m.TLVs.Byte(pdu.TagMessageState); st != state {
		t.Errorf("message_state %d, want %d", st, state)
	}
	if got, ok := m.TLVs.Uint16(pdu.TagUserMessageReference); umr != 0 && (!ok || got != umr) {
		t.Errorf("user_message_reference %#x %v, want %#x", got, ok, umr)
	}
	r, err := pdu.ParseReceipt(m.ShortMessage)
	if err != nil {
		t.Fatalf("receipt %q: %v", m.ShortMessage, err)
	}
	if r.ID != msgID || r.Stat != stat || r.Err != "000" || len(r.SubmitDate) != 10 || len(r.DoneDate) != 10 {
		t.Errorf("receipt %+v, want id %s stat %s", r, msgID, stat)
	}
}

func TestReceiptsSpreadOverSessionsAndHosts(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "pw"))
	a := dialBound(t, srv.Addrs()[0], pdu.CmdBindTransceiver, true)
	b := dialBound(t, srv.Addrs()[1], pdu.CmdBindTransceiver, true)

	const n = 10
	ids := make(map[string]bool)
	for range n {
		m := textSM("spread me", 1)
		m.TLVs = pdu.AppendTLV(nil, pdu.TagUserMessageReference, []byte{0x01, 0x02})
		f := a.Submit(m)
		ids[f.MessageID(t)] = true
	}
	got := collect(t, n, a, b)
	if len(got[1]) == 0 {
		t.Fatalf("no receipt on the other session: %d on the submitter", len(got[0]))
	}
	for _, fs := range got {
		for _, f := range fs {
			m := f.SM(t)
			id, _ := m.TLVs.CString(pdu.TagReceiptedMessageID)
			if !ids[string(id)] {
				t.Fatalf("receipt for unknown or repeated id %q", id)
			}
			delete(ids, string(id))
			checkReceipt(t, f, string(id), pdu.StatDelivered, pdu.StateDelivered, 0x0102)
			if r, _ := pdu.ParseReceipt(m.ShortMessage); r.Text != "258" {
				t.Errorf("receipt text %q, want the user_message_reference 258", r.Text)
			}
		}
	}
	eventually.That(t, wait, "all receipts acknowledged", func() bool { return srv.Stats().DLRsAcked == n })
}

func TestReceiptTextWithoutReference(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	m := textSM("", 1)
	m.DataCoding, m.ShortMessage = 8, []byte{0x00, 0xE9, 0x04, 0x3F, 0x00, 0x21} // "é" CYRILLIC ER "!"
	id := c.Submit(m).MessageID(t)
	f := c.Deliver()
	checkReceipt(t, f, id, pdu.StatDelivered, pdu.StateDelivered, 0)
	r, _ := pdu.ParseReceipt(f.SM(t).ShortMessage)
	if r.Text != "\xE9?!" {
		t.Fatalf("text %q, want Latin-1 é, ?, !", r.Text)
	}
}

func TestEnrouteThenDelivered(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Enroute(), simtest.DLRDelay(20*time.Millisecond))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	id := c.Submit(textSM("twice", 1)).MessageID(t)
	checkReceipt(t, c.Deliver(), id, pdu.StatEnroute, pdu.StateEnroute, 0)
	checkReceipt(t, c.Deliver(), id, pdu.StatDelivered, pdu.StateDelivered, 0)
}

func TestNoReceiptUnlessRequested(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	c.Submit(textSM("no receipt", 0))
	id := c.Submit(textSM("receipt", 1)).MessageID(t)
	checkReceipt(t, c.Deliver(), id, pdu.StatDelivered, pdu.StateDelivered, 0)
	if st := srv.Stats(); st.DLRsSent != 1 {
		t.Fatalf("%d receipts sent, want 1", st.DLRsSent)
	}
}

func TestReceiptsWaitForReceiver(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2))
	tx := dialBound(t, srv.Addrs()[0], pdu.CmdBindTransmitter, true)
	for range 3 {
		tx.Submit(textSM("later", 1))
	}
	eventually.That(t, wait, "3 receipts pending", func() bool { return srv.Stats().Pending == 3 })
	rx := dialBound(t, srv.Addrs()[1], pdu.CmdBindReceiver, true)
	collect(t, 3, rx)
	if st := srv.Stats(); st.Pending != 0 {
		t.Fatalf("%d still pending", st.Pending)
	}
}

func TestWindowLimitsUnacknowledged(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Window(2))
	tx := dialBound(t, srv.Addr(), pdu.CmdBindTransmitter, true)
	rx := dialBound(t, srv.Addr(), pdu.CmdBindReceiver, false)
	for range 5 {
		tx.Submit(textSM("windowed", 1))
	}
	eventually.That(t, wait, "2 in the window, 3 waiting", func() bool { st := srv.Stats(); return st.DLRsSent == 2 && st.Pending == 3 })
	first := collect(t, 2, rx)[0]
	rx.Ack(first[0], pdu.StatusOK)
	eventually.That(t, wait, "a third after one ack", func() bool { return srv.Stats().DLRsSent == 3 })
	rx.Ack(first[1], pdu.StatusOK)
	for range 3 {
		rx.Ack(rx.Deliver(), pdu.StatusOK)
	}
	eventually.That(t, wait, "all acked", func() bool { st := srv.Stats(); return st.DLRsAcked == 5 && st.Pending == 0 })
}

func TestReceiptResentOnAnotherSession(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2))
	tx := dialBound(t, srv.Addrs()[0], pdu.CmdBindTransmitter, true)
	r1 := dialBound(t, srv.Addrs()[0], pdu.CmdBindReceiver, false) // first in the rotation
	r2 := dialBound(t, srv.Addrs()[1], pdu.CmdBindReceiver, true)

	t.Run("session drops before deliver_sm_resp", func(t *testing.T) {
		id := tx.Submit(textSM("resend me", 1)).MessageID(t)
		f := r1.Deliver() // never acknowledged
		checkReceipt(t, f, id, pdu.StatDelivered, pdu.StateDelivered, 0)
		r1.Close()
		checkReceipt(t, r2.Deliver(), id, pdu.StatDelivered, pdu.StateDelivered, 0)
	})
	t.Run("error answer", func(t *testing.T) {
		r3 := dialBound(t, srv.Addrs()[0], pdu.CmdBindReceiver, false)
		var f esme.Frame
		var id string
		for { // round-robin: submit until one lands on r3
			id = tx.Submit(textSM("nack me", 1)).MessageID(t)
			got := collect(t, 1, r2, r3)
			if len(got[1]) == 1 {
				f = got[1][0]
				break
			}
		}
		r3.Ack(f, pdu.StatusSysErr)
		got := collect(t, 1, r2, r3)
		all := append(got[0], got[1]...)
		checkReceipt(t, all[0], id, pdu.StatDelivered, pdu.StateDelivered, 0)
	})
	if st := srv.Stats(); st.Resent < 2 {
		t.Fatalf("resent %d, want at least 2", st.Resent)
	}
}

func TestReceiptResentAfterTimeout(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Config(func(cfg *sim.Config) {
		cfg.DeliverTimeout = 30 * time.Millisecond
		cfg.Tick = 5 * time.Millisecond
	}))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, false)
	id := c.Submit(textSM("slow", 1)).MessageID(t)
	checkReceipt(t, c.Deliver(), id, pdu.StatDelivered, pdu.StateDelivered, 0)
	f := c.Deliver() // the same report again, unanswered past the timeout
	checkReceipt(t, f, id, pdu.StatDelivered, pdu.StateDelivered, 0)
	c.Ack(f, pdu.StatusOK)
	eventually.That(t, wait, "ack counted", func() bool { return srv.Stats().DLRsAcked == 1 })
}

func TestShuffledReceiptsAllArrive(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Shuffle(), simtest.Enroute(), simtest.DLRDelay(5*time.Millisecond),
		simtest.RespLatency(time.Millisecond))
	a := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	b := dialBound(t, srv.Addr(), pdu.CmdBindReceiver, true)
	const n = 50
	for range n {
		a.Send(pdu.CmdSubmitSM, textSM("shuffle", 1))
	}
	got := collect(t, 2*n, a, b)
	states := map[byte]int{}
	for _, fs := range got {
		for _, f := range fs {
			st, _ := f.SM(t).TLVs.Byte(pdu.TagMessageState)
			states[st]++
		}
	}
	if states[pdu.StateEnroute] != n || states[pdu.StateDelivered] != n {
		t.Fatalf("states %v, want %d ENROUTE and %d DELIVRD", states, n, n)
	}
}
