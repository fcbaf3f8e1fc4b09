package mux_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/freeport"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// upstreamConfig is the harness's config with [upstream] on hosts, more
// [upstream] keys and more tables.
func (h *harness) upstreamConfig(hosts []string, upstreamExtra, extra string) *mux.Config {
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
%s
`, upstreamExtra)
	for _, a := range hosts {
		src += fmt.Sprintf("[[upstream.host]]\naddress = %q\n", a)
	}
	cfg, err := mux.Parse([]byte(src + extra))
	if err != nil {
		h.t.Fatalf("config: %v", err)
	}
	return cfg
}

func (h *harness) reload(extra string) error {
	h.t.Helper()
	return h.mux.Reload(h.upstreamConfig(h.sim.Addrs()[:2], "", extra))
}

func (h *harness) reloadUpstream(hosts []string, upstreamExtra string) error {
	h.t.Helper()
	return h.mux.Reload(h.upstreamConfig(hosts, upstreamExtra, clientsTOML))
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
// the old sessions keep working. Sessions the new settings still allow
// stay bound; the others drain and unbind.
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
	err := reload("wrong")
	for _, want := range []string{"[upstream]", "ESME_RINVPASWD", "no session was changed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("reload to credentials that cannot bind: %v; want a refusal saying %q", err, want)
		}
	}
	if n := h.mux.UpstreamBound(); n != 4 || len(h.mux.Status().Upstream) != 4 {
		t.Fatalf("%d sessions bound after a refused reload, want the old 4 and no other", n)
	}
	binds := h.sim.Stats().Binds
	// The right password again: only host[1] with one session. One
	// session there already has these settings: it is kept, the other
	// three drain and unbind.
	if err := reload("secret"); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if up := h.mux.Status().Upstream; len(up) != 1 || up[0].Host != h.sim.Addrs()[1] || up[0].State != "bound" {
		t.Fatalf("upstream after the reload: %+v; want one bound session on host[1]", up)
	}
	if got := h.sim.Stats().Binds; got != binds {
		t.Errorf("%d binds during the reload, want none: the kept session stays bound", got-binds)
	}
	eventually.That(t, 10*time.Second, "h.sim.Stats().SessionsBound == 1", func() bool { return h.sim.Stats().SessionsBound == 1 })
	time.Sleep(200 * time.Millisecond) // traffic on the remaining session
	close(stop)
	got := <-done
	for st, n := range got {
		if st != pdu.StatusOK {
			t.Fatalf("statuses %v: %d submits got %v across the reload", got, n, st)
		}
	}
}

// watchUpstream polls, until stop, how many sessions the simulators see
// bound and how many /status and /metrics list, and sends the most of
// each seen. A session listed twice fails the test.
func watchUpstream(t *testing.T, h *harness, stop <-chan struct{}, sims ...*simtest.Server) <-chan [2]int {
	out := make(chan [2]int, 1)
	go func() {
		var most [2]int
		for {
			bound := 0
			for _, s := range sims {
				bound += s.Stats().SessionsBound
			}
			st, counters := h.mux.Status().Upstream, h.mux.UpstreamCounters()
			most = [2]int{max(most[0], bound), max(most[1], len(st), len(counters))}
			inStatus, inMetrics := map[string]bool{}, map[string]bool{}
			for _, u := range st {
				k := fmt.Sprint(u.Host, "/", u.Session)
				if inStatus[k] {
					t.Errorf("/status lists session %s twice", k)
				}
				inStatus[k] = true
			}
			for _, u := range counters {
				k := fmt.Sprint(u.Host, "/", u.Session)
				if inMetrics[k] {
					t.Errorf("/metrics lists session %s twice", k)
				}
				inMetrics[k] = true
			}
			select {
			case <-stop:
				out <- most
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return out
}

// A reload to other hosts, under load with receipts: the sessions are
// replaced one at a time, so the provider never sees more than 4+1 binds;
// every submit is answered, every receipt is stored and acknowledged
// whichever session it comes on, and at the end all sessions are on the
// new hosts.
func TestReloadUpstreamRolling(t *testing.T) {
	h := newHarness(t, "", simtest.Hosts(4), simtest.RespLatency(20*time.Millisecond))
	hosts := h.sim.Addrs()
	stopWatch := make(chan struct{})
	watched := watchUpstream(t, h, stopWatch, h.sim)
	stop := make(chan struct{})
	done := make(chan map[pdu.Status]int)
	go func() { done <- load(t, h, 2, 4, stop) }()
	eventually.That(t, 5*time.Second, "h.sim.Stats().Accepted > 20", func() bool { return h.sim.Stats().Accepted > 20 })
	if err := h.reloadUpstream(hosts[2:], ""); err != nil {
		t.Fatalf("reload: %v", err)
	}
	onNew := map[string]int{}
	for _, u := range h.mux.Status().Upstream {
		if u.State == "bound" {
			onNew[u.Host]++
		}
	}
	if len(h.mux.Status().Upstream) != 4 || onNew[hosts[2]] != 2 || onNew[hosts[3]] != 2 {
		t.Errorf("upstream after the reload: %+v; want 2 bound sessions on each new host", h.mux.Status().Upstream)
	}
	for _, u := range h.mux.UpstreamCounters() {
		if (u.Host != hosts[2] && u.Host != hosts[3]) || u.Binds != 1 {
			t.Errorf("metrics after the reload: session %d on %s with %d binds; want the new sessions only", u.Session, u.Host, u.Binds)
		}
	}
	accepted := h.sim.Stats().Accepted
	eventually.That(t, 5*time.Second, "h.sim.Stats().Accepted > accepted+20", func() bool { return h.sim.Stats().Accepted > accepted+20 })
	close(stop)
	got := <-done
	for st, n := range got {
		if st != pdu.StatusOK {
			t.Fatalf("statuses %v: %d submits got %v across the reload", got, n, st)
		}
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().SessionsBound == 4", func() bool { return h.sim.Stats().SessionsBound == 4 })
	close(stopWatch)
	most := <-watched
	t.Logf("at most %d sessions listed, %d bound at the provider", most[1], most[0])
	if most[1] > 5 {
		t.Errorf("up to %d upstream sessions listed; want at most 4+1", most[1])
	}
	// The simulator counts a session as bound until its goroutines end,
	// a moment after it answered the unbind and the mux closed the
	// connection; the next new session may bind within that moment. The
	// exact count, of connections open on the mux side, is checked by
	// upstream's TestReconfigureReplacesOneAtATime. A whole second pool
	// would show 8 here.
	if most[0] > 6 {
		t.Errorf("up to %d sessions bound at the provider; want at most 4+1, and one unbound a moment ago", most[0])
	}
	eventually.That(t, 10*time.Second, "every accepted message's receipt acknowledged", func() bool {
		s := h.sim.Stats()
		return s.Pending == 0 && s.DLRsAcked >= s.Accepted
	})
}

// A reload that changes only balancer and max_rate touches no session,
// and max_rate applies at once.
func TestReloadUpstreamSettingsOnly(t *testing.T) {
	h := newHarness(t, "")
	c := h.dial("shop", "shop-pw", esme.Options{})
	binds, before := h.sim.Stats().Binds, slots(h)
	if err := h.reloadUpstream(h.sim.Addrs()[:2], "max_rate = 0.5\nbalancer = \"round_robin\""); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if after := slots(h); !slices.Equal(after, before) {
		t.Errorf("upstream sessions %+v became %+v", before, after)
	}
	if got := h.sim.Stats().Binds; got != binds {
		t.Errorf("%d binds during the reload, want none", got-binds)
	}
	for _, u := range h.mux.UpstreamCounters() {
		if u.Binds != 1 {
			t.Errorf("session %d: %d binds, want 1", u.Session, u.Binds)
		}
	}
	// One submit per 2s, and submit_wait is 1s: the first goes, the next
	// finds no token in time.
	for i, want := range []pdu.Status{pdu.StatusOK, pdu.StatusThrottled} {
		if st, _, err := c.Submit(ctxT(t), sm("4599999999", false, "paced")); err != nil || st != want {
			t.Fatalf("submit %d after max_rate = 0.5: %v %v, want %v", i, st, err, want)
		}
	}
}

// slots lists the upstream sessions /status shows, as host/session/state.
func slots(h *harness) []string {
	var out []string
	for _, u := range h.mux.Status().Upstream {
		out = append(out, fmt.Sprint(u.Host, "/", u.Session, "/", u.State))
	}
	return out
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// A reload to a host that cannot be reached fails with the reason, and
// traffic goes on. Where some sessions moved before the failure, they stay
// moved and the error says so; a later reload goes on from there.
func TestReloadUpstreamUnreachable(t *testing.T) {
	h := newHarness(t, "", simtest.Hosts(4), simtest.RespLatency(5*time.Millisecond))
	hosts, dead := h.sim.Addrs(), deadAddr(t)
	stop := make(chan struct{})
	done := make(chan map[pdu.Status]int)
	go func() { done <- load(t, h, 2, 4, stop) }()
	before := slots(h)

	err := h.reloadUpstream([]string{hosts[0], dead}, "")
	for _, want := range []string{"[upstream]", dead, "did not bind within 2s", "connection refused", "no session was changed", "not applied"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("reload to an unreachable host: %v; want an error saying %q", err, want)
		}
	}
	if after := slots(h); !slices.Equal(after, before) {
		t.Fatalf("upstream sessions %v became %v after a failed reload", before, after)
	}

	err = h.reloadUpstream([]string{hosts[2], dead}, "")
	if err == nil || !strings.Contains(err.Error(), "stopped after 2 of 4 steps") || !strings.Contains(err.Error(), "2 keep the old ones") {
		t.Fatalf("reload failing half way: %v; want an error saying 2 of 4 steps were made", err)
	}
	on := map[string][]int{}
	for _, u := range h.mux.Status().Upstream {
		if u.State == "bound" {
			on[u.Host] = append(on[u.Host], u.Session)
		}
	}
	if len(h.mux.Status().Upstream) != 4 || len(on[hosts[1]]) != 2 || len(on[hosts[2]]) != 2 {
		t.Fatalf("upstream after a half failure: %+v; want 2 old sessions on host[1] and 2 new on host[2]", h.mux.Status().Upstream)
	}

	if err := h.reloadUpstream(hosts[2:], ""); err != nil {
		t.Fatalf("reload after the fix: %v", err)
	}
	now := map[string][]int{}
	for _, u := range h.mux.Status().Upstream {
		if u.State == "bound" {
			now[u.Host] = append(now[u.Host], u.Session)
		}
	}
	if !slices.Equal(now[hosts[2]], on[hosts[2]]) || len(now[hosts[3]]) != 2 || len(h.mux.Status().Upstream) != 4 {
		t.Fatalf("upstream after the fix: %+v; want the sessions on host[2] kept and 2 new on host[3]", h.mux.Status().Upstream)
	}
	close(stop)
	got := <-done
	if got[pdu.StatusOK] == 0 {
		t.Fatalf("statuses %v: no traffic", got)
	}
	for st, n := range got {
		if st != pdu.StatusOK {
			t.Fatalf("statuses %v: %d submits got %v across the failed reloads", got, n, st)
		}
	}
}

// Shutdown while a reload drains an old session: the reload stops, the
// submits in flight are answered, and everything ends (goleak checks).
func TestReloadUpstreamShutdownMidRollout(t *testing.T) {
	h := newHarness(t, "", simtest.Hosts(4), simtest.RespLatency(time.Second))
	c := h.dial("shop", "shop-pw", esme.Options{})
	var chans []<-chan []byte
	for range 20 {
		_, ch, err := c.Send(pdu.CmdSubmitSM, sm("4599999999", false, "in flight"))
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	eventually.That(t, 5*time.Second, "h.sim.Stats().Submits == 20", func() bool { return h.sim.Stats().Submits == 20 })
	cfg := h.upstreamConfig(h.sim.Addrs()[2:], "", clientsTOML)
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.mux.Reload(cfg) }()
	eventually.That(t, 5*time.Second, "an upstream session draining", func() bool {
		for _, u := range h.mux.Status().Upstream {
			if u.State == "draining" {
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.mux.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-reloaded:
		if err == nil || !strings.Contains(err.Error(), "stopping") {
			t.Errorf("reload stopped by Shutdown: %v, want an error saying the mux is stopping", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reload still running after Shutdown")
	}
	expectAllOK(t, chans)
	eventually.That(t, 5*time.Second, "h.sim.Stats().SessionsBound == 0", func() bool { return h.sim.Stats().SessionsBound == 0 })
}
