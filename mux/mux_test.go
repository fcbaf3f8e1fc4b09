package mux_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	_ "github.com/smpp-mux/smpp-mux/store/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is a mux on 127.0.0.1:0 in front of a simulated provider.
type harness struct {
	t    *testing.T
	sim  *simtest.Server
	mux  *mux.Mux
	addr string
}

const clientsTOML = `
[[client]]
system_id = "shop"
password = "shop-pw"
mo_numbers = ["4511111111"]

[[client]]
system_id = "bank"
password = "bank-pw"
mo_numbers = ["+45 22 22 22 22"]
`

func newHarness(t *testing.T, extra string, opts ...simtest.Option) *harness {
	t.Helper()
	opts = append([]simtest.Option{simtest.Hosts(2), simtest.Account("acct", "secret")}, opts...)
	s := simtest.NewServer(t, opts...)
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
%s
%s`, s.Addrs()[0], s.Addrs()[1], clientsTOML, extra)
	cfg, err := mux.Parse([]byte(src))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	m, err := mux.New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("mux.New: %v", err)
	}
	if err := m.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h := &harness{t: t, sim: s, mux: m, addr: m.Addrs()[0].String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	eventually(t, 5*time.Second, func() bool { return m.UpstreamBound() == 4 })
	return h
}

func (h *harness) dial(systemID, password string, o esme.Options) *esme.Client {
	h.t.Helper()
	c, err := esme.Dial(h.addr, systemID, password, o)
	if err != nil {
		h.t.Fatalf("bind %s: %v", systemID, err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func eventually(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sm(dest string, receipt bool, text string) *pdu.SM {
	m := &pdu.SM{SourceAddr: []byte("Shop"), DestTON: 1, DestNPI: 1, DestAddr: []byte(dest), ShortMessage: []byte(text)}
	if receipt {
		m.RegisteredDelivery = 1
	}
	return m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receiptID returns the message id a receipt frame reports.
func receiptID(t *testing.T, frame []byte) string {
	t.Helper()
	if id, ok := pdu.PeekReceiptedMessageID(frame); ok {
		return string(id)
	}
	text, _, _, _ := pdu.PeekText(frame)
	id, ok := pdu.ReceiptID(text)
	if !ok {
		t.Fatalf("deliver_sm without a message id: %x", frame)
	}
	return string(id)
}

// collect reads n deliveries that are receipts with stat:DELIVRD.
func collect(t *testing.T, c *esme.Client, n int, d time.Duration) []string {
	t.Helper()
	var ids []string
	timeout := time.After(d)
	for len(ids) < n {
		select {
		case f := <-c.Deliveries:
			text, _, _, _ := pdu.PeekText(f)
			if strings.Contains(string(text), "stat:DELIVRD") {
				ids = append(ids, receiptID(t, f))
			}
		case <-timeout:
			t.Fatalf("got %d of %d receipts", len(ids), n)
		}
	}
	return ids
}

func TestSameSeqTwoClientsAndReceiptsRouted(t *testing.T) {
	h := newHarness(t, "")
	shop := h.dial("shop", "shop-pw", esme.Options{})
	bank := h.dial("bank", "bank-pw", esme.Options{})
	const n = 40
	type sent struct{ shop, bank map[string]bool }
	got := sent{map[string]bool{}, map[string]bool{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		for _, c := range []struct {
			cl   *esme.Client
			name string
			ids  map[string]bool
		}{{shop, "shop", got.shop}, {bank, "bank", got.bank}} {
			wg.Go(func() {
				st, id, err := c.cl.Submit(ctxT(t), sm("4599999999", true, c.name))
				if err != nil || st != pdu.StatusOK || id == "" {
					t.Errorf("%s submit: status %v id %q err %v", c.name, st, id, err)
					return
				}
				mu.Lock()
				c.ids[id] = true
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	if len(got.shop) != n || len(got.bank) != n {
		t.Fatalf("distinct ids: shop %d bank %d, want %d each", len(got.shop), len(got.bank), n)
	}
	for _, c := range []struct {
		cl  *esme.Client
		own map[string]bool
	}{{shop, got.shop}, {bank, got.bank}} {
		for _, id := range collect(t, c.cl, n, 10*time.Second) {
			if !c.own[id] {
				t.Fatalf("receipt %s reached a client that did not send it", id)
			}
		}
	}
	// The simulator spread the receipts over all four binds, so most came
	// in on another upstream session than their submit.
	if st := h.sim.Stats(); st.Binds < 4 {
		t.Fatalf("sim saw %d binds", st.Binds)
	}
}

func TestReceiptWaitsForClientToBind(t *testing.T) {
	h := newHarness(t, "")
	tx := h.dial("shop", "shop-pw", esme.Options{Bind: pdu.CmdBindTransmitter})
	st, id, err := tx.Submit(ctxT(t), sm("4599999999", true, "later"))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	eventually(t, 5*time.Second, func() bool { return h.mux.Queued("shop") >= 1 })
	rx := h.dial("shop", "shop-pw", esme.Options{Bind: pdu.CmdBindReceiver})
	if ids := collect(t, rx, 1, 5*time.Second); ids[0] != id {
		t.Fatalf("receipt for %s, want %s", ids[0], id)
	}
}

func TestMORouting(t *testing.T) {
	h := newHarness(t, "")
	shop := h.dial("shop", "shop-pw", esme.Options{})
	bank := h.dial("bank", "bank-pw", esme.Options{})
	cases := []struct {
		dest string
		to   *esme.Client
	}{{"4522222222", bank}, {"4511111111", shop}, {"4533333333", shop}}
	for _, tc := range cases {
		if err := h.sim.InjectMO("acct", "4570000000", tc.dest, 0, []byte("hi "+tc.dest)); err != nil {
			t.Fatal(err)
		}
		select {
		case f := <-tc.to.Deliveries:
			if d, _ := pdu.PeekDestAddr(f); string(d) != tc.dest {
				t.Fatalf("MO to %s delivered with destination %s", tc.dest, d)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("MO to %s not delivered", tc.dest)
		}
	}
}

func TestHostileClientsDoNotDisturbOthers(t *testing.T) {
	h := newHarness(t, "")
	good := h.dial("shop", "shop-pw", esme.Options{})
	bad := h.dial("bank", "bank-pw", esme.Options{})
	// unknown command_id: generic_nack 0x03, the session stays
	_, ch, err := bad.Send(pdu.CommandID(0x00000777), nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-ch:
		if hd, _ := pdu.DecodeHeader(f); hd.ID != pdu.CmdGenericNack || hd.Status != pdu.StatusInvCmdID {
			t.Fatalf("unknown command_id answered %+v", hd)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("unknown command_id not answered")
	}
	// huge command_length: the bad connection ends, the good one works
	_ = bad.WriteRaw(pdu.Header{Length: 0x7FFFFFFF, ID: pdu.CmdSubmitSM, Seq: 99}.AppendTo(nil))
	select {
	case <-bad.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection with a huge command_length still open")
	}
	if st, _, err := good.Submit(ctxT(t), sm("4599999999", false, "still here")); err != nil || st != pdu.StatusOK {
		t.Fatalf("good client: %v %v", st, err)
	}
}

func TestProviderErrorPassedThrough(t *testing.T) {
	h := newHarness(t, "", simtest.ErrorEvery(1, pdu.Status(0x45a)))
	c := h.dial("shop", "shop-pw", esme.Options{})
	st, _, err := c.Submit(ctxT(t), sm("4599999999", false, "x"))
	if err != nil || st != pdu.Status(0x45a) {
		t.Fatalf("status %v err %v, want the provider's 0x45a", st, err)
	}
}
