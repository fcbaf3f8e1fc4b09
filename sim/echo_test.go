package sim_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// A submit_sm to the echo number comes back to the sender as an MO: from
// the echo number to the submit's source_addr, same text in the same
// field, same data_coding, after the submit_sm_resp and beside its
// receipts.
func TestEchoMO(t *testing.T) {
	t.Parallel()
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(latency.String(), func(t *testing.T) {
			t.Parallel()
			srv := simtest.NewServer(t, simtest.Account("acct", "pw"), simtest.Echo("4500000000"),
				simtest.RespLatency(latency))
			c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)

			ucs2 := []byte{0x00, 'h', 0x00, 0xe6, 0x00, '!'}
			m := &pdu.SM{SourceTON: 1, SourceNPI: 1, SourceAddr: []byte("4512345678"),
				DestTON: 1, DestNPI: 1, DestAddr: []byte("4500000000"), DataCoding: 8,
				RegisteredDelivery: 1, ShortMessage: ucs2}
			if f := c.Submit(m); f.Status != pdu.StatusOK {
				t.Fatalf("submit: %v", f.Status)
			}
			var mo pdu.SM
			for mo.ESMClass&pdu.ESMClassReceipt != 0 || mo.SourceAddr == nil { // skip the receipt
				mo = c.Deliver().SM(t)
			}
			if string(mo.SourceAddr) != "4500000000" || string(mo.DestAddr) != "4512345678" ||
				mo.DestTON != 1 || mo.DestNPI != 1 || mo.DataCoding != 8 || !bytes.Equal(mo.ShortMessage, ucs2) || mo.ESMClass != 0 {
				t.Fatalf("echo %+v", mo)
			}

			// message_payload comes back in message_payload; an alphanumeric
			// sender keeps its TON; "+" on the destination still matches.
			long := bytes.Repeat([]byte("echo "), 80)
			m = &pdu.SM{SourceTON: 5, SourceAddr: []byte("Shop"), DestTON: 1, DestAddr: []byte("+4500000000"),
				TLVs: pdu.AppendTLV(nil, pdu.TagMessagePayload, long)}
			if f := c.Submit(m); f.Status != pdu.StatusOK {
				t.Fatalf("submit: %v", f.Status)
			}
			mo = c.Deliver().SM(t)
			payload, ok := mo.TLVs.Lookup(pdu.TagMessagePayload)
			if string(mo.DestAddr) != "Shop" || mo.DestTON != 5 || !ok || !bytes.Equal(payload, long) || len(mo.ShortMessage) != 0 {
				t.Fatalf("long echo to %q (TON %d): payload %v %d octets, short_message %q", mo.DestAddr, mo.DestTON, ok, len(payload), mo.ShortMessage)
			}
			eventually.That(t, wait, "2 echoes acked", func() bool { return srv.Stats().MOsAcked == 2 })
		})
	}
}

// Without EchoNumber, and to any other number, no MO comes back.
func TestNoEcho(t *testing.T) {
	t.Parallel()
	for _, echo := range []string{"", "4500000000"} {
		srv := simtest.NewServer(t, simtest.Account("acct", "pw"), simtest.Config(func(c *sim.Config) { c.EchoNumber = echo }))
		c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
		dest := "4500000000"
		if echo != "" {
			dest = "4500000001"
		}
		m := textSM("hi", 0)
		m.DestAddr = []byte(dest)
		if f := c.Submit(m); f.Status != pdu.StatusOK {
			t.Fatalf("submit: %v", f.Status)
		}
		time.Sleep(50 * time.Millisecond)
		if st := srv.Stats(); st.MOsSent != 0 {
			t.Fatalf("echo %q, submit to %s: %d MOs sent", echo, dest, st.MOsSent)
		}
	}
}

// A refused submit_sm is not echoed.
func TestEchoOnlyAccepted(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"), simtest.Echo("4500000000"))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	m := textSM("hi", 0)
	m.DestAddr, m.DataCoding = []byte("4500000000"), 5 // data_coding 5 is refused
	if f := c.Submit(m); f.Status == pdu.StatusOK {
		t.Fatal("data_coding 5 accepted")
	}
	time.Sleep(50 * time.Millisecond)
	if st := srv.Stats(); st.MOsSent != 0 {
		t.Fatalf("%d MOs sent for a refused submit", st.MOsSent)
	}
}

// Trace sees each submit_sm with its answer, and its line names every
// field and TLV in wire order.
func TestTrace(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lines []string
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"), simtest.Config(func(c *sim.Config) {
		c.Trace = func(sub sim.Submit) {
			mu.Lock()
			lines = append(lines, sub.String())
			mu.Unlock()
		}
	}))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	m := &pdu.SM{SourceAddr: []byte("Shop"), DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi"),
		TLVs: pdu.TLVs(pdu.AppendTLV(pdu.AppendTLV(nil, pdu.TagMessageClass, []byte("premium")), 0x0204, []byte{0, 7}))}
	if f := c.Submit(m); f.Status != pdu.StatusOK {
		t.Fatalf("submit: %v", f.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 1 {
		t.Fatalf("%d trace lines, want 1", len(lines))
	}
	for _, want := range []string{`system_id="acct"`, "ESME_ROK", `dest=1/0/"4512345678"`, `short_message="hi"`, `tlv[0x2900]="premium" tlv[0x0204]="\x00\a"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("trace line %s\nlacks %s", lines[0], want)
		}
	}
}
