package mux_test

import (
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/standard"
)

// Each built-in rule's effect, seen at the provider.
func TestBuiltinRulesThroughTheMux(t *testing.T) {
	h := newHarness(t, `
[[client]]
system_id = "ruled"
password = "pw"
  [[client.rule]]
  module = "message_class"
  class = "premium"
  [[client.rule]]
  module = "priority"
  max = 1
  [[client.rule]]
  module = "dest_ton"
  [[client.rule]]
  module = "encoding_check"
  [[client.rule]]
  module = "sender"
  force = "Shop"
  [[client.rule]]
  module = "rate_limit"
  rate = 1
  burst = 3
`)
	c := h.dial("ruled", "pw", esme.Options{})
	m := sm("4599999999", false, "hello")
	m.PriorityFlag, m.DestTON, m.SourceAddr = 3, 0, []byte("Other")
	if st, _, err := c.Submit(ctxT(t), m); err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	subs := h.sim.Submits()
	if len(subs) != 1 {
		t.Fatalf("provider saw %d submits", len(subs))
	}
	got := subs[0]
	if class, ok := got.MessageClass(); !ok || class != "premium" {
		t.Errorf("message_class = %q, %v; want premium", class, ok)
	}
	if got.PriorityFlag != 1 {
		t.Errorf("priority_flag = %d; want capped to 1", got.PriorityFlag)
	}
	if got.DestTON != 1 {
		t.Errorf("dest_addr_ton = %d; want 0 rewritten to 1", got.DestTON)
	}
	if got.Source != "Shop" {
		t.Errorf("source_addr = %q; want forced to Shop", got.Source)
	}
	// rejected before the provider sees them
	bad := sm("4599999999", false, "")
	bad.DataCoding, bad.ShortMessage = 8, []byte{0xD8, 0x00} // a lone UCS-2 surrogate
	if st, _, _ := c.Submit(ctxT(t), bad); st != pdu.StatusSubmitFail {
		t.Errorf("undecodable UCS-2: status %v; want ESME_RSUBMITFAIL", st)
	}
	ton := sm("4599999999", false, "x")
	ton.DestTON = 5
	if st, _, _ := c.Submit(ctxT(t), ton); st != pdu.StatusInvDstTON {
		t.Errorf("dest TON 5: status %v; want ESME_RINVDSTTON", st)
	}
	throttled := false
	for i := 0; i < 5 && !throttled; i++ {
		st, _, _ := c.Submit(ctxT(t), sm("4599999999", false, "fast"))
		throttled = st == pdu.StatusThrottled
	}
	if !throttled {
		t.Error("rate_limit 1/s with burst 3 never answered ESME_RTHROTTLED")
	}
	if n := len(h.sim.Submits()); n > 4 {
		t.Errorf("provider saw %d submits; rejected ones must not reach it", n)
	}
}

// With both hosts down no upstream can take a message: the client gets a
// temporary status within submit_wait, never silence.
func TestNoUpstreamAnswersTemporary(t *testing.T) {
	h := newHarness(t, "")
	c := h.dial("shop", "shop-pw", esme.Options{})
	h.sim.StopHost(0)
	h.sim.StopHost(1)
	eventually.That(t, 5*time.Second, "h.mux.UpstreamBound() == 0", func() bool { return h.mux.UpstreamBound() == 0 })
	st, _, err := c.Submit(ctxT(t), sm("4599999999", false, "nowhere"))
	if err != nil || !st.Temporary() {
		t.Fatalf("status %v err %v; want a temporary status", st, err)
	}
}
