package admin_test

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smpp-mux/smpp-mux/admin"
	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/external"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// buildDir holds binaries built by the tests; TestMain removes it.
var buildDir string

// examplePlugin builds plugins/examples/premium-class once per test run.
var examplePlugin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "admin-test-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "premium-class")
	if out, err := exec.Command("go", "build", "-o", bin, "../plugins/examples/premium-class").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the example plugin: %v\n%s", err, out)
	}
	return bin, nil
})

func pluginBin(t *testing.T) string {
	t.Helper()
	bin, err := examplePlugin()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// pluginRule is a [[client.rule]] table running the example plugin.
func pluginRule(bin string) string {
	return fmt.Sprintf("  [[client.rule]]\n  module = \"plugin\"\n  command = [%q]\n  timeout = \"2s\"\n", bin)
}

// scrape gets /metrics, which must answer 200, and parses it with
// Prometheus' own text parser. It also gathers every collector /metrics
// serves through a pedantic registry, which fails on duplicate or
// inconsistent series and on metrics whose description the collector
// did not announce, and lints the mux's metrics.
func (r *rig) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	pedantic(t, r.m)
	code, body := get(t, r.base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// pedantic gathers every collector /metrics serves for m through a
// pedantic registry, and lints the mux's metrics.
func pedantic(t *testing.T, m *mux.Mux) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	admin.Register(reg, m)
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic gather: %v", err)
	}
	if problems, err := testutil.CollectAndLint(admin.NewCollector(m)); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// series returns the value of each series of family name, keyed by its
// labels as name=value joined by commas, in the family's label order.
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		v := m.GetCounter().GetValue()
		if m.GetGauge() != nil {
			v = m.GetGauge().GetValue()
		}
		out[strings.Join(labels, ",")] = v
	}
	return out
}

// Two plugin rules on one client are two rule instances: each has its
// own series, and the scrape is whole.
func TestMetricsTwoPluginRules(t *testing.T) {
	bin := pluginBin(t)
	r := startRigWith(t, "", pluginRule(bin)+pluginRule(bin), nil)
	c := r.bind(t, "shop")
	submitOK(t, c)
	submitOK(t, c)
	got := series(r.scrape(t), "smppmux_rule_events_total")
	for _, pos := range []string{"0", "1"} {
		key := "client=shop,event=calls,module=plugin,rule=" + pos
		if got[key] != 2 {
			t.Errorf("%s = %v, want 2; all: %v", key, got[key], got)
		}
	}
}

// A reload builds new rule modules; the counters of a rule that stays at
// its place carry on from where they were, and those of a rule removed
// go away.
func TestMetricsRuleEventsAcrossReload(t *testing.T) {
	bin := pluginBin(t)
	rules := pluginRule(bin) + pluginRule(bin)
	r := startRigWith(t, "", rules, nil)
	c := r.bind(t, "shop")
	submitOK(t, c)
	submitOK(t, c)
	calls := func(pos string) float64 {
		t.Helper()
		return series(r.scrape(t), "smppmux_rule_events_total")["client=shop,event=calls,module=plugin,rule="+pos]
	}
	if n := calls("0"); n != 2 {
		t.Fatalf("calls before the reload: %v, want 2", n)
	}

	r.write(t, rules+"[[client]]\nsystem_id = \"late\"\npassword = \"pw\"\n")
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	if n := calls("0"); n != 2 {
		t.Fatalf("calls after the reload: %v, want 2 (a counter never goes down)", n)
	}
	submitOK(t, c)
	if n0, n1 := calls("0"), calls("1"); n0 != 3 || n1 != 3 {
		t.Fatalf("calls after the reload and one more submit: %v and %v, want 3 and 3", n0, n1)
	}

	r.write(t, pluginRule(bin))
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	submitOK(t, c)
	got := series(r.scrape(t), "smppmux_rule_events_total")
	if n := got["client=shop,event=calls,module=plugin,rule=0"]; n != 4 {
		t.Errorf("rule 0 after the second reload: %v, want 4", n)
	}
	for k := range got {
		if strings.Contains(k, "rule=1") {
			t.Errorf("series of the removed rule 1 still exported: %s", k)
		}
	}
}

// Refused binds are counted by reason, and lockouts by remote address.
func TestMetricsBindsRefused(t *testing.T) {
	r := startRigWith(t, "bind_fail_limit = 4\nbind_lockout = \"1m\"\n", `[[client]]
system_id = "walled"
password = "pw"
allow = ["192.0.2.0/24"]
[[client]]
system_id = "single"
password = "pw"
max_binds = 1
`, nil)
	addr := r.m.Addrs()[0].String()
	refused := func(systemID, password string, want pdu.Status) {
		t.Helper()
		c, err := esme.Dial(addr, systemID, password, esme.Options{})
		if err == nil {
			c.Close()
			t.Fatalf("bind %s: accepted", systemID)
		}
		if st := pdu.StatusOf(err); st != want {
			t.Fatalf("bind %s: %v, want %v", systemID, err, want)
		}
	}
	refused("shop", "wrong", pdu.StatusInvPassword)
	refused("nobody", "pw", pdu.StatusInvSystemID)
	refused("walled", "pw", pdu.StatusInvPassword)
	r.bind(t, "single")
	refused("single", "pw", pdu.StatusAlreadyBound) // the 4th failure: locked out
	refused("shop", "pw", pdu.StatusBindFail)

	fams := r.scrape(t)
	want := map[string]float64{
		"reason=wrong_password": 1, "reason=unknown_system_id": 1, "reason=not_allowed": 1,
		"reason=max_binds": 1, "reason=locked_out": 1, "reason=malformed": 0,
	}
	got := series(fams, "smppmux_downstream_binds_refused_total")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("smppmux_downstream_binds_refused_total: %v, want %v", got, want)
	}
	if got := series(fams, "smppmux_downstream_lockouts_total"); got[""] != 1 || len(got) != 1 {
		t.Errorf("smppmux_downstream_lockouts_total: %v, want 1", got)
	}
	if got := series(fams, "smppmux_downstream_binds_total"); got[""] != 1 {
		t.Errorf("smppmux_downstream_binds_total: %v, want 1", got)
	}
}

// The provider's answers are counted by host and status, and the build
// is a series of its own.
func TestMetricsUpstreamResponsesAndBuildInfo(t *testing.T) {
	r := startRigSim(t, []simtest.Option{simtest.ErrorEvery(3, pdu.StatusSysErr)}, "", "", nil)
	c := r.bind(t, "shop")
	for i := range 6 {
		st, _, err := c.Submit(t.Context(), &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")})
		if want := map[bool]pdu.Status{false: pdu.StatusOK, true: pdu.StatusSysErr}[i%3 == 2]; err != nil || st != want {
			t.Fatalf("submit %d: %v %v, want %v", i, st, err, want)
		}
	}
	fams := r.scrape(t)
	host := "host=" + r.sim.Addr()
	want := map[string]float64{host + ",status=ESME_ROK": 4, host + ",status=ESME_RSYSERR": 2}
	if got := series(fams, "smppmux_upstream_responses_total"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("smppmux_upstream_responses_total: %v, want %v", got, want)
	}
	if f := fams["smppmux_upstream_responses_total"]; f == nil || f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("smppmux_upstream_responses_total is not a counter: %v", f)
	}
	info := fams["smppmux_build_info"]
	if info == nil || len(info.GetMetric()) != 1 || info.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("smppmux_build_info: %v", info)
	}
	labels := map[string]string{}
	for _, l := range info.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] == "" || !strings.HasPrefix(labels["go_version"], "go") || len(labels) != 3 {
		t.Errorf("smppmux_build_info labels %v, want version, commit and go_version", labels)
	}
	if _, ok := labels["commit"]; !ok {
		t.Errorf("smppmux_build_info has no commit label: %v", labels)
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	n := len(mux.UpstreamLatencyBuckets) + 1
	cum := func(per map[int]uint64) []uint64 {
		out := make([]uint64, n)
		var c uint64
		for i := range out {
			c += per[i]
			out[i] = c
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		q      float64
		counts []uint64
		want   float64 // seconds
	}{
		{"empty", 0.5, cum(nil), 0},
		{"all in the first bucket", 0.5, cum(map[int]uint64{0: 10}), 0.0005},
		{"p99 in the 10ms bucket", 0.99, cum(map[int]uint64{0: 90, 3: 10}), 0.005 + 0.005*0.9},
		{"past the last bound", 0.99, cum(map[int]uint64{n - 1: 5}), 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := admin.Quantile(tc.q, tc.counts); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}
