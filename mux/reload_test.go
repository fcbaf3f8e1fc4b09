package mux_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func (h *harness) reload(extra string) error {
	h.t.Helper()
	src := fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
mo_default = "shop"
dlr_grace = "2s"
response_timeout = "2s"
submit_wait = "1s"
[store]
module = "memory"
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 2
reconnect_delay = "1s"
response_timeout = "2s"
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
%s`, h.sim.Addrs()[0], h.sim.Addrs()[1], extra)
	cfg, err := mux.Parse([]byte(src))
	if err != nil {
		h.t.Fatalf("config: %v", err)
	}
	return h.mux.Reload(cfg)
}

func TestReload(t *testing.T) {
	h := newHarness(t, "")
	shop := h.dial("shop", "shop-pw", esme.Options{})
	bank := h.dial("bank", "bank-pw", esme.Options{})
	// shop's password changes, bank is removed, new arrives.
	err := h.reload(`
[[client]]
system_id = "shop"
password = "new-pw"
[[client]]
system_id = "new"
password = "pw"
`)
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	select {
	case <-bank.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("removed client's session still open")
	}
	if st, _, err := shop.Submit(ctxT(t), sm("4599999999", false, "kept")); err != nil || st != pdu.StatusOK {
		t.Fatalf("shop's bound session after reload: %v %v", st, err)
	}
	if _, err := esme.Dial(h.addr, "shop", "shop-pw", esme.Options{}); err == nil {
		t.Fatal("old password still accepted")
	}
	h.dial("shop", "new-pw", esme.Options{})
	h.dial("new", "pw", esme.Options{})
	if err := h.reload("[admin]\nlisten = \"127.0.0.1:0\"\n" + clientsTOML); err == nil || !strings.Contains(err.Error(), "[admin]") {
		t.Fatalf("reload changing [admin]: %v, want a refusal naming it", err)
	}
	if st, _, err := shop.Submit(ctxT(t), sm("4599999999", false, "still")); err != nil || st != pdu.StatusOK {
		t.Fatalf("after a refused reload: %v %v", st, err)
	}
}

// A reload that changes [upstream] moves traffic to new sessions without
// an unanswered submit; one whose new settings cannot bind is refused and
// the old sessions keep working.
func TestReloadUpstream(t *testing.T) {
	h := newHarness(t, "", simtest.RespLatency(20*time.Millisecond))
	stop := make(chan struct{})
	done := make(chan map[pdu.Status]int)
	go func() { done <- load(t, h, 2, 4, stop) }()
	base := fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
mo_default = "shop"
dlr_grace = "2s"
response_timeout = "2s"
submit_wait = "1s"
[store]
module = "memory"
[upstream]
system_id = "acct"
password = "%%s"
sessions_per_host = 1
reconnect_delay = "1s"
response_timeout = "2s"
[[upstream.host]]
address = %q
%s`, h.sim.Addrs()[1], clientsTOML)
	reload := func(password string) error {
		cfg, err := mux.Parse(fmt.Appendf(nil, base, password))
		if err != nil {
			t.Fatal(err)
		}
		return h.mux.Reload(cfg)
	}
	if err := reload("wrong"); err == nil || !strings.Contains(err.Error(), "[upstream]") {
		t.Fatalf("reload to credentials that cannot bind: %v; want a refusal", err)
	}
	if n := h.mux.UpstreamBound(); n != 4 {
		t.Fatalf("%d sessions bound after a refused reload, want the old 4", n)
	}
	if err := reload("secret"); err != nil {
		t.Fatalf("reload: %v", err)
	}
	eventually(t, 10*time.Second, func() bool {
		bound := 0
		for _, u := range h.mux.Status().Upstream {
			if u.State == "bound" {
				bound++
			}
		}
		return bound == 1 && h.sim.Stats().SessionsBound == 1
	})
	time.Sleep(200 * time.Millisecond) // traffic on the new session
	close(stop)
	got := <-done
	for st, n := range got {
		if st != pdu.StatusOK {
			t.Fatalf("statuses %v: %d submits got %v across the reload", got, n, st)
		}
	}
}
