package mux_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// deliverTag is a test rule that asks for deliver_sm: it tags MOs with TLV
// 0x1401 and drops receipts whose text holds "drop-me".
type deliverTag struct{}

func init() { module.Register(deliverTag{}) }

func (deliverTag) MuxModule() module.Info {
	return module.Info{ID: "rule.deliver_tag_test", New: func() module.Module { return deliverTag{} }}
}

func (deliverTag) Submit(*module.Message) error { return nil }

var errDropped = pdu.StatusRejectAppErr.Err()

func (deliverTag) Deliver(m *module.Message) error {
	if m.SM.IsReceipt() {
		if bytes.Contains(m.SM.Text(), []byte("drop-me")) {
			return errDropped
		}
		return nil
	}
	m.SetTLV(0x1401, []byte("tagged"))
	return nil
}

func TestDeliverRules(t *testing.T) {
	h := newHarness(t, `
[[client]]
system_id = "tagged"
password = "pw"
mo_numbers = ["4577777777"]
  [[client.rule]]
  module = "deliver_tag_test"
`)
	c := h.dial("tagged", "pw", esme.Options{})
	if err := h.sim.InjectMO("acct", "4570000000", "4577777777", 0, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-c.Deliveries:
		_, body, err := pdu.DecodeFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := body.(*pdu.SM).TLVs.Lookup(0x1401); !ok || string(v) != "tagged" {
			t.Fatalf("MO without the rule's TLV: %x", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("MO not delivered")
	}
	_, dropID, _ := c.Submit(ctxT(t), sm("4599999999", true, "drop-me please"))
	_, keepID, _ := c.Submit(ctxT(t), sm("4599999999", true, "keep"))
	ids := collect(t, c, 1, 5*time.Second)
	if ids[0] != keepID {
		t.Fatalf("got the receipt of %s, want only %s (not the dropped %s)", ids[0], keepID, dropID)
	}
	eventually.That(t, 5*time.Second, "h.mux.Metrics().Snapshot().DeliverDropped == 1", func() bool { return h.mux.Metrics().Snapshot().DeliverDropped == 1 })
	eventually.That(t, 5*time.Second, `h.mux.Queued("tagged") == 0`, func() bool { return h.mux.Queued("tagged") == 0 })
}
