package mux_test

import (
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// With [store] trace = false no history is kept: a message's trace names
// its owner only, and says it was not traced.
func TestTraceOff(t *testing.T) {
	h := newHarnessConf(t, harnessConf{store: "module = \"memory\"\ntrace = false"})
	c := h.dial("shop", "shop-pw", esme.Options{})
	st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "untraced"))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	collect(t, c, 1, 5*time.Second)
	tr, ok, err := h.mux.Message(ctxT(t), id)
	if err != nil || !ok || tr.Client != "shop" || tr.Traced || len(tr.Receipts) != 0 || tr.Submitted != nil {
		t.Fatalf("trace %+v, %v, %v: want the owner only, not traced", tr, ok, err)
	}
}
