package mux_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	_ "github.com/smpp-mux/smpp-mux/store/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// After a failed dial go-redis retries in a goroutine that sleeps a
		// second between tries and ends on its own after Close.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// harness is a mux on 127.0.0.1:0 in front of a simulated provider.
type harness struct {
	t    *testing.T
	sim  *simtest.Server
	cfg  *mux.Config
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
	return newHarnessStore(t, "memory", extra, opts...)
}

// newHarnessStore is newHarness with the store module named.
func newHarnessStore(t *testing.T, storeModule, extra string, opts ...simtest.Option) *harness {
	t.Helper()
	return newHarnessFull(t, fmt.Sprintf("module = %q", storeModule), "", extra, opts...)
}

// newHarnessFull is newHarness with the [store] table's body and more
// [upstream] keys given.
func newHarnessFull(t *testing.T, storeTOML, upstreamExtra, extra string, opts ...simtest.Option) *harness {
	t.Helper()
	return newHarnessConf(t, harnessConf{store: storeTOML, upstream: upstreamExtra, extra: extra}, opts...)
}

// harnessConf is what a test adds to the harness's config: the [store]
// table's body, and keys for [server] and [upstream] (each replacing a
// default it names again), and tables after the clients.
type harnessConf struct {
	store, server, upstream, extra string
}

// newHarnessConf is newHarness with its config given in parts.
func newHarnessConf(t *testing.T, hc harnessConf, opts ...simtest.Option) *harness {
	t.Helper()
	if hc.store == "" {
		hc.store = `module = "memory"`
	}
	// A store that can fail journals ids; not in the package's directory.
	// (A memory store never fails, and reload tests compare [store].)
	if !strings.Contains(hc.store, "journal") && !strings.Contains(hc.store, `"memory"`) {
		hc.store += fmt.Sprintf("\njournal = %q", filepath.Join(t.TempDir(), "ids.journal"))
	}
	server := overrideKeys(`listen = "127.0.0.1:0"
mo_default = "shop"
dlr_grace = "2s"
response_timeout = "2s"
submit_wait = "1s"`, hc.server)
	upstream := overrideKeys(`system_id = "acct"
password = "secret"
sessions_per_host = 2
reconnect_delay = "1s"
response_timeout = "2s"`, hc.upstream)
	opts = append([]simtest.Option{simtest.Hosts(2), simtest.Account("acct", "secret")}, opts...)
	s := simtest.NewServer(t, opts...)
	src := fmt.Sprintf(`
[server]
%s
[store]
%s
[upstream]
%s
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
%s
%s`, server, hc.store, upstream, s.Addrs()[0], s.Addrs()[1], clientsTOML, hc.extra)
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
	h := &harness{t: t, sim: s, cfg: cfg, mux: m, addr: m.Addrs()[0].String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	eventually.That(t, 5*time.Second, "m.UpstreamBound() == 4", func() bool { return m.UpstreamBound() == 4 })
	return h
}

// overrideKeys returns the TOML lines of base, less those whose key more
// sets again, then more.
func overrideKeys(base, more string) string {
	set := map[string]bool{}
	for l := range strings.Lines(more) {
		if k, _, ok := strings.Cut(l, "="); ok {
			set[strings.TrimSpace(k)] = true
		}
	}
	var b strings.Builder
	for l := range strings.Lines(base) {
		k, _, _ := strings.Cut(l, "=")
		if !set[strings.TrimSpace(k)] {
			b.WriteString(strings.TrimSuffix(l, "\n") + "\n")
		}
	}
	return b.String() + more
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
	eventually.That(t, 5*time.Second, `h.mux.Queued("shop") >= 1`, func() bool { return h.mux.Queued("shop") >= 1 })
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

// load submits from n clients, window w each, until stop is closed, and
// returns the statuses of every answer; it fails the test if any submit
// stays unanswered.
func load(t *testing.T, h *harness, n, w int, stop <-chan struct{}) map[pdu.Status]int {
	t.Helper()
	var mu sync.Mutex
	got := map[pdu.Status]int{}
	var sent, answered int
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c := h.dial([]string{"shop", "bank"}[i%2], []string{"shop-pw", "bank-pw"}[i%2], esme.Options{})
		go func() { // receipts are acknowledged by the client; keep its buffer from filling
			for {
				select {
				case <-c.Deliveries:
				case <-c.Done():
					return
				}
			}
		}()
		wg.Go(func() {
			slots := make(chan struct{}, w)
			var cw sync.WaitGroup
			defer cw.Wait()
			for {
				select {
				case <-stop:
					return
				case slots <- struct{}{}:
				}
				_, ch, err := c.Send(pdu.CmdSubmitSM, sm("4599999999", true, "load"))
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				mu.Lock()
				sent++
				mu.Unlock()
				cw.Go(func() {
					defer func() { <-slots }()
					select {
					case f, ok := <-ch:
						if !ok {
							return
						}
						hd, _ := pdu.DecodeHeader(f)
						mu.Lock()
						answered++
						got[hd.Status]++
						mu.Unlock()
					case <-time.After(10 * time.Second):
					}
				})
			}
		})
	}
	wg.Wait()
	if sent != answered {
		t.Fatalf("%d submits sent, %d answered", sent, answered)
	}
	return got
}

func TestHostDownMidLoad(t *testing.T) {
	h := newHarness(t, "", simtest.RespLatency(5*time.Millisecond))
	stop := make(chan struct{})
	done := make(chan map[pdu.Status]int)
	go func() { done <- load(t, h, 4, 8, stop) }()
	eventually.That(t, 5*time.Second, "100 submits before the failure", func() bool { return h.sim.Stats().Submits >= 100 })
	h.sim.StopHost(0) // the listener and its sessions die
	before := h.sim.Stats().Submits
	eventually.That(t, 5*time.Second, "h.sim.Stats().Submits > before+100", func() bool { return h.sim.Stats().Submits > before+100 })
	h.sim.StartHost(0) // maintenance over: the mux binds to it again
	eventually.That(t, 10*time.Second, "h.mux.UpstreamBound() == 4", func() bool { return h.mux.UpstreamBound() == 4 })
	close(stop)
	got := <-done
	if got[pdu.StatusOK] < 100 {
		t.Fatalf("statuses %v: traffic did not continue", got)
	}
	for st := range got {
		if st != pdu.StatusOK && !st.Temporary() {
			t.Fatalf("statuses %v: a permanent error from a host failure", got)
		}
	}
}

func TestShutdownAnswersInFlight(t *testing.T) {
	h := newHarness(t, "", simtest.RespLatency(300*time.Millisecond))
	c := h.dial("shop", "shop-pw", esme.Options{})
	var chans []<-chan []byte
	for i := 0; i < 20; i++ {
		_, ch, err := c.Send(pdu.CmdSubmitSM, sm("4599999999", true, "in flight"))
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().Submits == 20", func() bool { return h.sim.Stats().Submits == 20 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.mux.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	expectAllOK(t, chans)
}

func TestThrottledProviderRetriedElsewhere(t *testing.T) {
	h := newHarness(t, "", simtest.ThrottleEvery(10))
	c := h.dial("shop", "shop-pw", esme.Options{})
	ok := 0
	for i := 0; i < 30; i++ {
		st, _, err := c.Submit(ctxT(t), sm("4599999999", false, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if st == pdu.StatusOK {
			ok++
		} else if st != pdu.StatusThrottled {
			t.Fatalf("status %v", st)
		}
	}
	if ok < 30 || h.mux.Metrics().Snapshot().Retries == 0 {
		t.Fatalf("%d of 30 accepted, %d retries: ESME_RTHROTTLED was not retried on another session", ok, h.mux.Metrics().Snapshot().Retries)
	}
}

func TestBindRefusals(t *testing.T) {
	h := newHarness(t, `
[[client]]
system_id = "far"
password = "pw"
allow = ["10.0.0.0/8"]
[[client]]
system_id = "one"
password = "pw"
max_binds = 1
`)
	cases := []struct {
		name, id, pw string
		want         pdu.Status
	}{
		{"unknown system_id", "nobody", "x", pdu.StatusInvSystemID},
		{"wrong password", "shop", "wrong", pdu.StatusInvPassword},
		{"address not allowed", "far", "pw", pdu.StatusInvPassword},
	}
	for _, tc := range cases {
		_, err := esme.Dial(h.addr, tc.id, tc.pw, esme.Options{})
		var se *pdu.StatusError
		if !errorsAs(err, &se) || se.Status != tc.want {
			t.Fatalf("%s: err %v, want status %v", tc.name, err, tc.want)
		}
	}
	h.dial("one", "pw", esme.Options{})
	_, err := esme.Dial(h.addr, "one", "pw", esme.Options{})
	var se *pdu.StatusError
	if !errorsAs(err, &se) || se.Status != pdu.StatusAlreadyBound {
		t.Fatalf("bind over max_binds: %v", err)
	}
	// Each client counts its own refusals; an unknown system_id names none.
	cc := h.mux.ClientCounters()
	for id, want := range map[string]string{"shop": "map[wrong_password:1]", "far": "map[not_allowed:1]", "one": "map[max_binds:1]"} {
		if got := fmt.Sprint(cc[id].BindsRefused); got != want {
			t.Errorf("client %s: BindsRefused %s, want %s", id, got, want)
		}
	}
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

func TestConcatenatedPartsShareASession(t *testing.T) {
	h := newHarness(t, "")
	c := h.dial("shop", "shop-pw", esme.Options{})
	for ref := byte(1); ref <= 5; ref++ {
		for part := byte(1); part <= 3; part++ {
			m := sm("4599999999", false, "")
			m.ESMClass = pdu.ESMClassUDHI
			m.ShortMessage = append([]byte{5, 0, 3, ref, 3, part}, fmt.Sprintf("part %d of message %d", part, ref)...)
			if st, _, err := c.Submit(ctxT(t), m); err != nil || st != pdu.StatusOK {
				t.Fatalf("submit: %v %v", st, err)
			}
		}
	}
	sessions := map[byte]map[string]bool{}
	for _, s := range h.sim.Submits() {
		if len(s.ShortMessage) < 6 {
			continue
		}
		ref := s.ShortMessage[3]
		if sessions[ref] == nil {
			sessions[ref] = map[string]bool{}
		}
		sessions[ref][fmt.Sprintf("%s/%d", s.Host, s.Session)] = true
	}
	if len(sessions) != 5 {
		t.Fatalf("saw %d messages at the provider, want 5", len(sessions))
	}
	for ref, s := range sessions {
		if len(s) != 1 {
			t.Fatalf("parts of message %d went over %d sessions: %v", ref, len(s), s)
		}
	}
}

func TestGarbageConnections(t *testing.T) {
	h := newHarness(t, "")
	good := h.dial("shop", "shop-pw", esme.Options{})
	for i, garbage := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9}, // command_length 3
		bytes.Repeat([]byte{0xff}, 64),
	} {
		c := esme.DialConn(t, h.addr, esme.ConnOptions{})
		c.Write(garbage)
		c.WaitClosed() // whatever the mux answers first, it closes the connection
		c.Close()
		if st, _, err := good.Submit(ctxT(t), sm("4599999999", false, "fine")); err != nil || st != pdu.StatusOK {
			t.Fatalf("good client after garbage %d: %v %v", i, st, err)
		}
	}
}

// A receipt that races its submit_sm_resp (it arrives before the mux has
// stored the message id) is held for dlr_grace, not dropped, and reaches
// its client once the id is known.
func TestReceiptRacingItsResponseIsHeld(t *testing.T) {
	var n atomic.Uint64
	h := newHarness(t, "", simtest.RespLatency(500*time.Millisecond),
		simtest.Config(func(c *sim.Config) { c.MessageID = func(uint64) string { return fmt.Sprintf("race%d", n.Add(1)) } }))
	c := h.dial("shop", "shop-pw", esme.Options{})
	_, resp, err := c.Send(pdu.CmdSubmitSM, sm("4599999999", true, "racing"))
	if err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().Submits == 1", func() bool { return h.sim.Stats().Submits == 1 })
	// The provider reports the message before it answers the submit.
	if err := h.sim.InjectReceipt("acct", "race1"); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "h.mux.Status().Held == 1", func() bool { return h.mux.Status().Held == 1 })
	select {
	case f := <-resp:
		var r pdu.SMResp
		if err := r.Decode(f[pdu.HeaderLen:]); err != nil || string(r.MessageID) != "race1" {
			t.Fatalf("submit_sm_resp %x: %v", f, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no submit_sm_resp")
	}
	if ids := collect(t, c, 1, 5*time.Second); ids[0] != "race1" {
		t.Fatalf("receipt for %s", ids[0])
	}
}

// The provider resends a receipt whose deliver_sm_resp it did not get; a
// resend of one already stored is answered and not delivered again.
func TestResentReceiptNotDeliveredTwice(t *testing.T) {
	h := newHarness(t, "", simtest.DLRDelay(time.Hour)) // no receipt of its own
	c := h.dial("shop", "shop-pw", esme.Options{})
	_, id, err := c.Submit(ctxT(t), sm("4599999999", true, "once"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the same receipt twice, as a resend is
		if err := h.sim.InjectReceipt("acct", id); err != nil {
			t.Fatal(err)
		}
	}
	collect(t, c, 1, 5*time.Second)
	eventually.That(t, 5*time.Second, "h.mux.Metrics().Snapshot().Resent == 1", func() bool { return h.mux.Metrics().Snapshot().Resent == 1 })
	select {
	case f := <-c.Deliveries:
		t.Fatalf("a second copy was delivered: %x", f)
	case <-time.After(300 * time.Millisecond):
	}
}

// expectAllOK waits for the submit_sm_resp on each channel and fails
// unless every one came, with ESME_ROK.
func expectAllOK(t *testing.T, chans []<-chan []byte) {
	t.Helper()
	for i, ch := range chans {
		select {
		case f, ok := <-ch:
			if !ok {
				t.Fatalf("submit %d: connection closed before its answer", i)
			}
			if hd, _ := pdu.DecodeHeader(f); hd.Status != pdu.StatusOK {
				t.Fatalf("submit %d: status %v", i, hd.Status)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("submit %d unanswered", i)
		}
	}
}
