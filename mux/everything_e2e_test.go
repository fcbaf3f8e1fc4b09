package mux_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/admin"
	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/testcert"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// Tags the two plugin rules set, and a vendor tag no part of the mux knows.
const (
	tagPlugin1 pdu.Tag = 0x1401
	tagPlugin2 pdu.Tag = 0x1402
	tagVendor  pdu.Tag = 0x1433
	tagSrcPort pdu.Tag = 0x020A // source_port
)

// Every rule module at once on one client (issue 12): encoding_check,
// dest_ton, sender, message_class, a plugin, priority, rate_limit and a
// second plugin, in that order, with a bolt store, clients bound over TLS
// from four sessions, receipts requested and flowing, the admin server
// on, and a reload through POST /reload half-way through the load that
// changes sender, message_class, priority and the first plugin's label.
//
// At the provider every submit_sm is compared field by field, TLVs octet
// for octet, with what the rules make of the message sent: the old rules
// for a message answered before the reload began, the new ones for a
// message sent after it was acknowledged, and one or the other, wholly,
// for a message in flight during it. Each plugin's TLV says what that
// plugin saw, so a rule that loses or garbles another's edit shows. Every
// submit must be answered ESME_ROK with the message_id the provider gave;
// every receipt must reach the client once, octet for octet as the
// provider sent it (seen through a tap in front of each host) but for
// the sequence number. /metrics must answer 200 and parse, during the
// load and after it.
func TestEverythingAtOnce(t *testing.T) {
	plugin := filepath.Join(t.TempDir(), "tlvplugin")
	if out, err := exec.Command("go", "build", "-o", plugin, "./testdata/tlvplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	r := startEverything(t, plugin)
	before := e2eRules{sender: "Shop", class: "standard", label1: "p1-a", maxPriority: 1}
	after := e2eRules{sender: "Alert", class: "premium", label1: "p1-b", maxPriority: 2}
	r.write(t, before)
	r.start(t)

	const sessions, perSession, phase = 4, 2, 200
	l := &e2eLoad{stop: make(chan struct{})}
	var recv []*receiptLog
	for range sessions {
		c := r.dial(t)
		recv = append(recv, drainReceipts(t, c))
		for range perSession {
			l.wg.Go(func() { l.run(t, c) })
		}
	}
	stopLoad := sync.OnceFunc(func() { close(l.stop); l.wg.Wait() })
	t.Cleanup(stopLoad)

	l.wait(t, time.Time{}, phase)
	r.scrape(t, "during the load, before the reload")
	r.write(t, after)
	reloadStart := time.Now()
	if code, body := r.post(t, "/reload"); code != http.StatusOK {
		t.Fatalf("POST /reload: %d %s", code, body)
	}
	reloadDone := time.Now()
	l.wait(t, reloadDone, phase)
	r.scrape(t, "during the load, after the reload")
	stopLoad()

	msgs := l.all()
	n := len(msgs)
	checkSubmits(t, r.sim, msgs, before, after, reloadStart, reloadDone)
	// Wait until every receipt the provider sent is acknowledged; past
	// the deadline, checkReceipts says which are missing (so not
	// eventually.That, which would fail without saying which).
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st := r.sim.Stats(); st.DLRsAcked >= st.Accepted && st.Pending == 0 && r.mux.Queued("all") == 0 {
			break
		}
	}
	var got [][]byte
	for _, rl := range recv {
		got = append(got, rl.stop()...)
	}
	checkReceipts(t, msgs, got, r.taps)
	flowing(t, recv, reloadStart, reloadDone)
	fams := r.scrape(t, "after the load")
	if fams != nil {
		for name, want := range map[string]float64{
			"smppmux_client_submits_total":          float64(n),
			"smppmux_client_submit_responses_total": float64(n),
		} {
			if v := metricValue(fams, name, "client", "all"); v != want {
				t.Errorf("/metrics %s{client=\"all\"} = %v, want %v", name, v, want)
			}
		}
	}
	if st, ok := r.sim.Stats(), uint64(accepted(msgs)); st.Submits != ok || st.Accepted != ok || st.DLRsSent != ok {
		t.Errorf("provider: %d submits, %d accepted, %d receipts sent; want %d each", st.Submits, st.Accepted, st.DLRsSent, ok)
	}
}

// e2eRules are the values of the client's rules that the reload changes.
type e2eRules struct {
	sender, class, label1 string
	maxPriority           byte
}

// everything is the mux of TestEverythingAtOnce with what surrounds it.
type everything struct {
	sim     *simtest.Server
	taps    []*tap
	certs   testcert.Files
	plugin  string // the test plugin's binary
	path    string // the config file
	store   string // the bolt file
	mux     *mux.Mux
	tlsAddr string
	admin   string // http://host:port
}

func startEverything(t *testing.T, plugin string) *everything {
	t.Helper()
	r := &everything{
		sim:    simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "secret"), simtest.DLRDelay(50*time.Millisecond), simtest.Shuffle()),
		certs:  testcert.New(t),
		plugin: plugin,
		path:   filepath.Join(t.TempDir(), "smpp-mux.toml"),
		store:  filepath.Join(t.TempDir(), "mux.db"),
	}
	for _, a := range r.sim.Addrs() {
		r.taps = append(r.taps, newTap(t, a))
	}
	return r
}

// write replaces the config file with the rules rs.
func (r *everything) write(t *testing.T, rs e2eRules) {
	t.Helper()
	src := fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
tls_listen = "127.0.0.1:0"
tls_cert = %q
tls_key = %q
dlr_grace = "2s"
response_timeout = "5s"
submit_wait = "2s"
[store]
module = "bolt"
path = %q
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 2
reconnect_delay = "1s"
response_timeout = "5s"
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
[[client]]
system_id = "all"
password = "pw"
  [[client.rule]]
  module = "encoding_check"
  [[client.rule]]
  module = "dest_ton"
  [[client.rule]]
  module = "sender"
  force = %q
  [[client.rule]]
  module = "message_class"
  class = %q
  [[client.rule]]
  module = "plugin"
  command = [%q, "-tag", "0x%04x", "-label", %q]
  timeout = "5s"
  [[client.rule]]
  module = "priority"
  max = %d
  [[client.rule]]
  module = "rate_limit"
  rate = 100000
  burst = 100000
  [[client.rule]]
  module = "plugin"
  command = [%q, "-tag", "0x%04x", "-label", "p2", "-delay", "2ms"]
  timeout = "5s"
`, r.certs.Cert, r.certs.Key, r.store, r.taps[0].addr(), r.taps[1].addr(),
		rs.sender, rs.class, r.plugin, uint16(tagPlugin1), rs.label1, rs.maxPriority, r.plugin, uint16(tagPlugin2))
	if err := os.WriteFile(r.path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

// start runs the mux from the config file and, beside it, the admin
// server wired as the command wires it: POST /reload loads the file again.
func (r *everything) start(t *testing.T) {
	t.Helper()
	cfg, err := mux.Load(r.path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	// Info, not Debug: a line per PDU would bury what matters.
	if r.mux, err = mux.New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))); err != nil {
		t.Fatal(err)
	}
	if err := r.mux.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	as := admin.New(r.mux, admin.Options{Reload: func() error {
		cfg, err := mux.Load(r.path)
		if err != nil {
			return err
		}
		return r.mux.Reload(cfg)
	}})
	served := make(chan error, 1)
	go func() { served <- as.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = as.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("admin: %v", err)
		}
		if err := r.mux.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	r.admin = "http://" + ln.Addr().String()
	r.tlsAddr = r.mux.Addrs()[1].String()
	eventually.That(t, 5*time.Second, "r.mux.UpstreamBound() == 4", func() bool { return r.mux.UpstreamBound() == 4 })
}

// dial binds a transceiver of client "all" over TLS.
func (r *everything) dial(t *testing.T) *esme.Client {
	t.Helper()
	c, err := esme.Dial(r.tlsAddr, "all", "pw", esme.Options{TLS: &tls.Config{RootCAs: r.certs.Pool, ServerName: "127.0.0.1"}, Buffer: 8192})
	if err != nil {
		t.Fatalf("bind over TLS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// post sends an empty POST to the admin server.
func (r *everything) post(t *testing.T, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape gets /metrics, which must answer 200 in the Prometheus text
// format; it returns the parsed families, or nil after an error.
func (r *everything) scrape(t *testing.T, when string) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.admin+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET /metrics %s: %v", when, err)
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics %s: %d %v: %.300s", when, resp.StatusCode, err, body)
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Errorf("GET /metrics %s: does not parse: %v", when, err)
		return nil
	}
	return fams
}

// metricValue sums the counters of family name whose label is value.
func metricValue(fams map[string]*dto.MetricFamily, name, label, value string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == value {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// e2eMsg is one submit_sm of the load and what became of it.
type e2eMsg struct {
	sm             *pdu.SM
	sentAt, respAt time.Time
	status         pdu.Status
	id             string
}

// e2eLoad sends submit_sm from several goroutines until stop is closed.
type e2eLoad struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	next   atomic.Int64
	failed atomic.Bool // a submit got no answer; the error is reported

	mu   sync.Mutex // guards msgs
	msgs []*e2eMsg
}

func (l *e2eLoad) run(t *testing.T, c *esme.Client) {
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		i := int(l.next.Add(1) - 1)
		if i > 0xFFFF { // user_message_reference is the index
			return
		}
		m := &e2eMsg{sm: loadMessage(i), sentAt: time.Now()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, id, err := c.Submit(ctx, m.sm)
		cancel()
		if err != nil {
			t.Errorf("submit %d: %v", i, err)
			l.failed.Store(true)
			return
		}
		m.respAt, m.status, m.id = time.Now(), st, id
		l.mu.Lock()
		l.msgs = append(l.msgs, m)
		l.mu.Unlock()
	}
}

// wait waits until n submits sent after since have their answer; it
// ends the test at once when a submit got none.
func (l *e2eLoad) wait(t *testing.T, since time.Time, n int) {
	t.Helper()
	eventually.That(t, 20*time.Second, "l.failed.Load() || l.answered(since) >= n", func() bool { return l.failed.Load() || l.answered(since) >= n })
	if l.failed.Load() {
		t.FailNow()
	}
}

// answered counts the submits sent after since that have their answer.
func (l *e2eLoad) answered(since time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m.sentAt.After(since) {
			n++
		}
	}
	return n
}

func (l *e2eLoad) all() []*e2eMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

// loadMessage is the ith submit_sm: its fields vary with i over what the
// rules look at and what they must leave alone. Its TLVs are the client's
// own: user_message_reference i, a vendor TLV of 0 to 4 octets, and on
// some messages a message_class or the first plugin's tag that the rules
// replace in place, and source_port.
func loadMessage(i int) *pdu.SM {
	m := &pdu.SM{
		SourceTON:          5,
		SourceAddr:         []byte([]string{"Other", "Shop", "Alert"}[i/3%3]),
		DestTON:            byte(i / 2 % 2),
		DestNPI:            1,
		DestAddr:           fmt.Appendf(nil, "45%08d", i),
		PriorityFlag:       byte(i % 4),
		RegisteredDelivery: 1,
	}
	if i%2 == 0 {
		m.ServiceType = []byte("CMT")
	}
	switch i % 3 {
	case 0:
		m.DataCoding, m.ShortMessage = 0, fmt.Appendf(nil, "gsm message %d", i)
	case 1:
		m.DataCoding, m.ShortMessage = 3, fmt.Appendf(nil, "caf\xe9 cr\xe8me %d", i)
	case 2:
		m.DataCoding = 8
		for _, r := range fmt.Sprintf("æøå ünïcode %d", i) {
			m.ShortMessage = binary.BigEndian.AppendUint16(m.ShortMessage, uint16(r))
		}
	}
	var tlvs []byte
	if i%5 == 0 {
		tlvs = pdu.AppendTLV(tlvs, tagPlugin1, []byte("client-own"))
	}
	tlvs = pdu.AppendTLV(tlvs, pdu.TagUserMessageReference, binary.BigEndian.AppendUint16(nil, uint16(i)))
	if i%4 == 1 {
		tlvs = pdu.AppendTLV(tlvs, pdu.TagMessageClass, []byte("client-class"))
	}
	tlvs = pdu.AppendTLV(tlvs, tagVendor, bytes.Repeat([]byte{byte(i)}, i%5))
	if i%3 == 2 {
		tlvs = pdu.AppendTLV(tlvs, tagSrcPort, []byte{0x0B, 0xB8})
	}
	m.TLVs = tlvs
	return m
}

// tlv is one TLV of the test's own model of a TLV list.
type tlv struct {
	tag   pdu.Tag
	value []byte
}

// set returns l with tag set to value: in place of the first one with
// that tag, else at the end.
func set(l []tlv, tag pdu.Tag, value []byte) []tlv {
	l = slices.Clone(l)
	for i := range l {
		if l[i].tag == tag {
			l[i].value = value
			return l
		}
	}
	return append(l, tlv{tag, value})
}

// pluginValue is what the test plugin sets with label on a message with
// that source, priority and TLVs.
func pluginValue(label, source string, priority byte, l []tlv) []byte {
	tags := make([]string, len(l))
	for i, x := range l {
		tags[i] = fmt.Sprintf("%04x", uint16(x.tag))
	}
	return fmt.Appendf(nil, "%s/%s/%d/%s", label, source, priority, strings.Join(tags, ","))
}

// expect is the submit_sm the provider must receive for m under rs, with
// the rules in config order: encoding_check, dest_ton, sender,
// message_class, plugin 1, priority, rate_limit, plugin 2.
func (rs e2eRules) expect(m *pdu.SM) sim.Submit {
	var l []tlv
	for tag, v := range m.TLVs.All() {
		l = append(l, tlv{tag, v})
	}
	w := sim.Submit{
		SystemID: "acct", Status: pdu.StatusOK,
		ServiceType: string(m.ServiceType), SourceTON: m.SourceTON, SourceNPI: m.SourceNPI,
		Source: rs.sender, DestTON: 1, DestNPI: m.DestNPI, Dest: string(m.DestAddr),
		ESMClass: m.ESMClass, ProtocolID: m.ProtocolID, PriorityFlag: m.PriorityFlag,
		RegisteredDelivery: m.RegisteredDelivery, DataCoding: m.DataCoding, ShortMessage: m.ShortMessage,
	}
	l = set(l, pdu.TagMessageClass, []byte(rs.class))
	l = set(l, tagPlugin1, pluginValue(rs.label1, w.Source, w.PriorityFlag, l))
	w.PriorityFlag = min(w.PriorityFlag, rs.maxPriority)
	l = set(l, tagPlugin2, pluginValue("p2", w.Source, w.PriorityFlag, l))
	for _, x := range l {
		w.TLVs = pdu.AppendTLV(w.TLVs, x.tag, x.value)
	}
	return w
}

// submitDiff lists the fields in which got differs from want.
func submitDiff(got, want sim.Submit) []string {
	var d []string
	field := func(name string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s %v, want %v", name, g, w))
		}
	}
	field("system_id", got.SystemID, want.SystemID)
	field("status", got.Status, want.Status)
	field("service_type", got.ServiceType, want.ServiceType)
	field("source_addr_ton", got.SourceTON, want.SourceTON)
	field("source_addr_npi", got.SourceNPI, want.SourceNPI)
	field("source_addr", got.Source, want.Source)
	field("dest_addr_ton", got.DestTON, want.DestTON)
	field("dest_addr_npi", got.DestNPI, want.DestNPI)
	field("destination_addr", got.Dest, want.Dest)
	field("esm_class", got.ESMClass, want.ESMClass)
	field("protocol_id", got.ProtocolID, want.ProtocolID)
	field("priority_flag", got.PriorityFlag, want.PriorityFlag)
	field("registered_delivery", got.RegisteredDelivery, want.RegisteredDelivery)
	field("data_coding", got.DataCoding, want.DataCoding)
	if !bytes.Equal(got.ShortMessage, want.ShortMessage) {
		d = append(d, fmt.Sprintf("short_message % x, want % x", got.ShortMessage, want.ShortMessage))
	}
	if !bytes.Equal(got.TLVs, want.TLVs) {
		d = append(d, fmt.Sprintf("TLVs %s, want %s", showTLVs(got.TLVs), showTLVs(want.TLVs)))
	}
	return d
}

// showTLVs writes TLVs as tag=value, in wire order, and what follows
// the last whole one in hex.
func showTLVs(t pdu.TLVs) string {
	var b strings.Builder
	off := 0
	for tag, v := range t.All() {
		fmt.Fprintf(&b, "%04x=%q ", uint16(tag), v)
		off += 4 + len(v)
	}
	if off < len(t) {
		fmt.Fprintf(&b, "garbage[% x]", []byte(t[off:]))
	}
	return "[" + strings.TrimSpace(b.String()) + "]"
}

// checkSubmits checks each message's answer, and what the provider got
// for it against the rules before the reload when it was answered before
// the reload began, against the rules after it when it was sent after
// the reload was acknowledged, and against one or the other, wholly, in
// between.
func checkSubmits(t *testing.T, s *simtest.Server, msgs []*e2eMsg, before, after e2eRules, reloadStart, reloadDone time.Time) {
	t.Helper()
	fail := newFailures(t, 10)
	defer fail.done()
	byID := map[string]sim.Submit{}
	subs := s.Submits()
	for _, sub := range subs {
		if _, dup := byID[sub.MessageID]; dup {
			t.Errorf("provider: message_id %s given twice", sub.MessageID)
		}
		byID[sub.MessageID] = sub
	}
	if ok := accepted(msgs); len(subs) != ok {
		t.Errorf("provider got %d submit_sm for %d submits answered ESME_ROK", len(subs), ok)
	}
	count := map[string]int{}
	var nBetweenAfter int
	for _, m := range msgs {
		umr, _ := m.sm.TLVs.Uint16(pdu.TagUserMessageReference)
		when := "during the reload"
		switch {
		case m.respAt.Before(reloadStart):
			when = "before the reload"
		case m.sentAt.After(reloadDone):
			when = "after the reload"
		}
		count[when]++
		if m.status != pdu.StatusOK || m.id == "" {
			fail.errorf("message %d, %s: submit_sm_resp %v, message_id %q; want ESME_ROK", umr, when, m.status, m.id)
			continue
		}
		got, ok := byID[m.id]
		if !ok {
			fail.errorf("message %d, %s: message_id %q is not one the provider gave", umr, when, m.id)
			continue
		}
		dBefore, dAfter := submitDiff(got, before.expect(m.sm)), submitDiff(got, after.expect(m.sm))
		switch {
		case when == "before the reload" && len(dBefore) > 0:
			fail.errorf("message %d, %s: %s", umr, when, strings.Join(dBefore, "; "))
		case when == "after the reload" && len(dAfter) > 0:
			fail.errorf("message %d, %s: %s", umr, when, strings.Join(dAfter, "; "))
		case when == "during the reload" && len(dAfter) == 0:
			nBetweenAfter++
		case when == "during the reload" && len(dBefore) > 0:
			fail.errorf("message %d, %s, is neither config: against the old: %s; against the new: %s",
				umr, when, strings.Join(dBefore, "; "), strings.Join(dAfter, "; "))
		}
	}
	t.Logf("%d submits: %d before the reload, %d after it, %d during it (%d of those under the new rules)",
		len(msgs), count["before the reload"], count["after the reload"], count["during the reload"], nBetweenAfter)
	if count["before the reload"] == 0 || count["after the reload"] == 0 {
		t.Errorf("%d submits checked against the old rules and %d against the new; want some of each",
			count["before the reload"], count["after the reload"])
	}
}

// accepted counts the messages answered ESME_ROK.
func accepted(msgs []*e2eMsg) int {
	n := 0
	for _, m := range msgs {
		if m.status == pdu.StatusOK {
			n++
		}
	}
	return n
}

// receiptLog reads one client session's deliver_sm until stop.
type receiptLog struct {
	done   chan struct{}
	wg     sync.WaitGroup
	frames [][]byte    // owned by the reading goroutine until wg.Wait
	at     []time.Time // when each frame was read
}

func drainReceipts(t *testing.T, c *esme.Client) *receiptLog {
	rl := &receiptLog{done: make(chan struct{})}
	rl.wg.Go(func() {
		for {
			select {
			case f := <-c.Deliveries:
				rl.frames, rl.at = append(rl.frames, f), append(rl.at, time.Now())
			case <-rl.done:
				for {
					select {
					case f := <-c.Deliveries:
						rl.frames, rl.at = append(rl.frames, f), append(rl.at, time.Now())
					default:
						return
					}
				}
			}
		}
	})
	t.Cleanup(func() { rl.stop() })
	return rl
}

// stop ends the reading and returns the frames read; it may be called again.
func (rl *receiptLog) stop() [][]byte {
	select {
	case <-rl.done:
	default:
		close(rl.done)
	}
	rl.wg.Wait()
	return rl.frames
}

// flowing checks that receipts reached the clients before the reload
// began and after it was done, and says how many while it ran.
func flowing(t *testing.T, recv []*receiptLog, reloadStart, reloadDone time.Time) {
	t.Helper()
	var before, during, after int
	for _, rl := range recv {
		for _, at := range rl.at {
			switch {
			case at.Before(reloadStart):
				before++
			case at.After(reloadDone):
				after++
			default:
				during++
			}
		}
	}
	t.Logf("receipts read by the clients: %d before the reload, %d while it ran (%v), %d after it",
		before, during, reloadDone.Sub(reloadStart).Round(time.Millisecond), after)
	if before == 0 || after == 0 {
		t.Errorf("receipts before the reload %d, after it %d; want them flowing across it", before, after)
	}
}

// checkReceipts checks that each message's receipt reached the client
// exactly once and octet for octet as the provider sent it, but for the
// sequence number.
func checkReceipts(t *testing.T, msgs []*e2eMsg, got [][]byte, taps []*tap) {
	t.Helper()
	fail := newFailures(t, 10)
	defer fail.done()
	count := map[string]int{} // receipts by message id, for the messages accepted
	for _, m := range msgs {
		if m.status == pdu.StatusOK {
			count[m.id] = 0
		}
	}
	sent := map[string][][]byte{}
	for _, tp := range taps {
		for id, fs := range tp.delivered() {
			sent[id] = append(sent[id], fs...)
		}
	}
	var unknown, dups, mismatched int
	for _, f := range got {
		id, ok := pdu.PeekReceiptedMessageID(f)
		if _, mine := count[string(id)]; !ok || !mine {
			unknown++
			fail.errorf("deliver_sm for no message of the client: % x", f)
			continue
		}
		if count[string(id)]++; count[string(id)] == 2 {
			dups++
			fail.errorf("receipt for %s delivered more than once", id)
		}
		orig := sent[string(id)]
		if len(orig) == 0 {
			fail.errorf("receipt for %s: the provider sent none", id)
			continue
		}
		if len(f) != len(orig[0]) || !bytes.Equal(f[:12], orig[0][:12]) || !bytes.Equal(f[16:], orig[0][16:]) {
			mismatched++
			fail.errorf("receipt for %s:\n got  % x\n sent % x", id, f, orig[0])
		}
	}
	missing := 0
	for id, n := range count {
		if n == 0 {
			missing++
			fail.errorf("no receipt for %s", id)
		}
	}
	t.Logf("%d receipts for %d accepted messages: %d missing, %d duplicated, %d unknown, %d changed on the way",
		len(got), len(count), missing, dups, unknown, mismatched)
}

// failures reports the first few of many like failures in full and
// then only counts them.
type failures struct {
	t        *testing.T
	n, shown int
}

func newFailures(t *testing.T, shown int) *failures { return &failures{t: t, shown: shown} }

func (f *failures) errorf(format string, args ...any) {
	f.t.Helper()
	if f.n++; f.n <= f.shown {
		f.t.Errorf(format, args...)
	}
}

// done reports how many were not shown.
func (f *failures) done() {
	f.t.Helper()
	if f.n > f.shown {
		f.t.Errorf("... and %d more failures like these", f.n-f.shown)
	}
}

// tap forwards connections to a simulator host and keeps a copy of each
// deliver_sm the simulator sends, by receipted_message_id, so that what
// a client got can be compared with what the provider sent.
type tap struct {
	ln net.Listener
	to string
	wg sync.WaitGroup // the accept loop and the copying goroutines

	mu     sync.Mutex // guards the fields below
	conns  []net.Conn
	sent   map[string][][]byte
	closed bool
}

func newTap(t *testing.T, to string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, to: to, sent: map[string][][]byte{}}
	tp.wg.Go(tp.accept)
	t.Cleanup(tp.close)
	return tp
}

func (tp *tap) addr() string { return tp.ln.Addr().String() }

func (tp *tap) accept() {
	for {
		down, err := tp.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", tp.to, 2*time.Second)
		if err != nil {
			down.Close()
			continue
		}
		tp.mu.Lock()
		if tp.closed {
			tp.mu.Unlock()
			down.Close()
			up.Close()
			return
		}
		tp.conns = append(tp.conns, down, up)
		tp.mu.Unlock()
		tp.wg.Go(func() {
			_, _ = io.Copy(up, down)
			up.Close()
			down.Close()
		})
		tp.wg.Go(func() {
			tp.relay(down, up)
			up.Close()
			down.Close()
		})
	}
}

// relay copies the simulator's frames to the mux, one by one.
func (tp *tap) relay(down, up net.Conn) {
	br := bufio.NewReader(up)
	for {
		f, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength)
		if err != nil {
			return
		}
		if pdu.ID(f) == pdu.CmdDeliverSM {
			if id, ok := pdu.PeekReceiptedMessageID(f); ok {
				tp.mu.Lock()
				tp.sent[string(id)] = append(tp.sent[string(id)], bytes.Clone(f))
				tp.mu.Unlock()
			}
		}
		if _, err := down.Write(f); err != nil {
			return
		}
	}
}

// delivered returns the receipts sent through the tap, by message id.
func (tp *tap) delivered() map[string][][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make(map[string][][]byte, len(tp.sent))
	for id, fs := range tp.sent {
		out[id] = slices.Clone(fs)
	}
	return out
}

func (tp *tap) close() {
	tp.ln.Close()
	tp.mu.Lock()
	tp.closed = true
	for _, c := range tp.conns {
		c.Close()
	}
	tp.mu.Unlock()
	tp.wg.Wait()
}
