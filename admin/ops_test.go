package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/admin"
	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// opsConfig is a mux in front of one simulated host, with client "shop";
// the rig's server keys go into [server] and extra is appended.
const opsConfig = `[server]
listen = "127.0.0.1:0"
%s[store]
module = "memory"
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 1
reconnect_delay = "200ms"
[[upstream.host]]
address = %q
[[client]]
system_id = "shop"
password = "pw"
`

// rig is a started mux loaded from a file, with its admin server.
type rig struct {
	m      *mux.Mux
	sim    *simtest.Server
	path   string // the config file
	base   string // http://host:port of the admin server
	server string // extra [server] keys, one per line
}

// startRig starts the mux from a config file and an admin server with
// the options opts returns; both stop when the test ends.
func startRig(t *testing.T, opts func(*rig) admin.Options) *rig {
	t.Helper()
	return startRigWith(t, "", "", opts)
}

// startRigWith is startRig with extra [server] keys and extra config
// after client "shop".
func startRigWith(t *testing.T, server, extra string, opts func(*rig) admin.Options) *rig {
	t.Helper()
	return startRigSim(t, nil, server, extra, opts)
}

// startRigSim is startRigWith with options for the simulated provider.
func startRigSim(t *testing.T, sim []simtest.Option, server, extra string, opts func(*rig) admin.Options) *rig {
	t.Helper()
	r := &rig{sim: simtest.NewServer(t, append([]simtest.Option{simtest.Account("acct", "secret")}, sim...)...), server: server}
	r.path = filepath.Join(t.TempDir(), "smpp-mux.toml")
	r.write(t, extra)
	cfg, err := mux.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	if r.m, err = mux.New(cfg, zaptest.NewLogger(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var o admin.Options
	if opts != nil {
		o = opts(r)
	}
	as := admin.New(r.m, o)
	served := make(chan error, 1)
	go func() { served <- as.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = as.Shutdown(ctx)
		<-served
		_ = r.m.Shutdown(ctx)
	})
	r.base = "http://" + ln.Addr().String()
	eventually.That(t, 10*time.Second, "r.m.UpstreamBound() > 0", func() bool { return r.m.UpstreamBound() > 0 })
	return r
}

// write replaces the config file: opsConfig, then extra.
func (r *rig) write(t *testing.T, extra string) {
	t.Helper()
	if err := os.WriteFile(r.path, fmt.Appendf(nil, opsConfig+extra, r.server, r.sim.Addr()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload is what the command hands admin.Options.Reload, minus the log level.
func (r *rig) reload() error {
	cfg, err := mux.Load(r.path)
	if err != nil {
		return err
	}
	return r.m.Reload(cfg)
}

// bind binds systemID as a transceiver; the client closes when the test ends.
func (r *rig) bind(t *testing.T, systemID string) *esme.Client {
	t.Helper()
	c, err := esme.Dial(r.m.Addrs()[0].String(), systemID, "pw", esme.Options{})
	if err != nil {
		t.Fatalf("bind %s: %v", systemID, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// do sends a request with the bearer token, if any, and returns the
// status code and body.
func do(t *testing.T, method, url, token, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func submitOK(t *testing.T, c *esme.Client) {
	t.Helper()
	st, _, err := c.Submit(t.Context(), &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")})
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
}

func TestPageRendersLiveSessions(t *testing.T) {
	r := startRig(t, nil)
	submitOK(t, r.bind(t, "shop"))
	code, body := get(t, r.base+"/")
	for _, want := range []string{
		"<td>shop</td>", "<td>transceiver</td>", "<td>" + r.sim.Addr() + "</td>",
		`<span class="state state-bound">bound</span>`, "answered ESME_ROK",
		"setInterval(refresh, 2000)", // the script survives html/template
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("GET /: %d, lacks %q:\n%s", code, want, body)
		}
	}
	if code, _ := get(t, r.base+"/nosuch"); code != http.StatusNotFound {
		t.Fatalf("GET /nosuch: %d, want 404", code)
	}
	// /status keeps its fields and adds the counters the page diffs.
	code, body = get(t, r.base+"/status")
	var st struct {
		mux.Status
		Build struct {
			Version   string  `json:"version"`
			GoVersion string  `json:"go_version"`
			Uptime    float64 `json:"uptime_s"`
		} `json:"build"`
		Counters struct {
			At      int64             `json:"at_ms"`
			Submits uint64            `json:"submits"`
			Answers map[string]uint64 `json:"answers"`
			Clients map[string]struct {
				Submits uint64 `json:"submits"`
			} `json:"clients"`
			Hosts map[string]struct {
				Responses  map[string]uint64 `json:"responses"`
				RoundTrips uint64            `json:"round_trips"`
				P99Ms      float64           `json:"p99_ms"`
			} `json:"hosts"`
			BindsRefused map[string]uint64 `json:"binds_refused"`
		} `json:"counters"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || len(st.Downstream) != 1 ||
		st.Counters.Submits != 1 || st.Counters.Answers["ESME_ROK"] != 1 || st.Counters.At == 0 {
		t.Fatalf("/status: %d %s", code, body)
	}
	// ... and what the operator needs at 3 a.m.
	h := st.Counters.Hosts[r.sim.Addr()]
	if len(st.Upstream) != 1 || st.Upstream[0].Since.IsZero() || st.Upstream[0].Binds != 1 || st.Upstream[0].LastError != "" ||
		st.Build.Version == "" || st.Build.GoVersion == "" || st.Counters.Clients["shop"].Submits != 1 ||
		h.Responses["ESME_ROK"] != 1 || h.RoundTrips != 1 || h.P99Ms <= 0 || len(st.Counters.BindsRefused) != 6 {
		t.Fatalf("/status lacks the upstream since, build, client, host or refused-bind fields: %s", body)
	}
}

func TestReload(t *testing.T) {
	r := startRig(t, func(r *rig) admin.Options { return admin.Options{Reload: r.reload} })
	shop := r.bind(t, "shop")

	r.write(t, "[[client]]\nsystem_id = \"late\"\npassword = \"pw\"\n")
	if code, body := do(t, "POST", r.base+"/reload", "", ""); code != http.StatusOK || strings.TrimSpace(body) != `{"status":"reloaded"}` {
		t.Fatalf("POST /reload: %d %s", code, body)
	}
	submitOK(t, r.bind(t, "late"))

	cases := []struct {
		name, file string
		code       int
		want       string
	}{
		{"syntax", "[server\n", http.StatusBadRequest, "line"},
		{"unknown key", "lisen = 1\n", http.StatusBadRequest, "client.lisen"},
		{"not live", "[admin]\nlisten = \"127.0.0.1:0\"\n", http.StatusConflict, "[admin]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "syntax" {
				if err := os.WriteFile(r.path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				r.write(t, tc.file)
			}
			code, body := do(t, "POST", r.base+"/reload", "", "")
			var e struct{ Error string }
			if code != tc.code || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, tc.want) {
				t.Fatalf("POST /reload: %d %s; want %d with an error naming %q", code, body, tc.code, tc.want)
			}
			// The old config keeps serving: both clients' sessions work,
			// and "late" (from the last good reload) can still bind.
			submitOK(t, shop)
			submitOK(t, r.bind(t, "late"))
		})
	}
	if err := os.Remove(r.path); err != nil {
		t.Fatal(err)
	}
	if code, _ := do(t, "POST", r.base+"/reload", "", ""); code != http.StatusBadRequest {
		t.Fatalf("POST /reload of a missing file: %d, want 400", code)
	}
	// A page on another site cannot make the operator's browser reload.
	if code, _ := do(t, "POST", r.base+"/reload", "", "", "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Fatalf("cross-site POST /reload: %d, want 403", code)
	}
}

func TestReloadUnavailable(t *testing.T) {
	r := startRig(t, nil)
	if code, body := do(t, "POST", r.base+"/reload", "", ""); code != http.StatusNotImplemented || !strings.Contains(body, `"error"`) {
		t.Fatalf("POST /reload without a reload function: %d %s", code, body)
	}
	if code, _ := get(t, r.base+"/log/level"); code != http.StatusNotFound {
		t.Fatalf("GET /log/level without a level: %d, want 404", code)
	}
}

func TestToken(t *testing.T) {
	const token = "s3cret-token"
	lvl := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	r := startRig(t, func(r *rig) admin.Options {
		return admin.Options{Reload: r.reload, Level: &lvl, Token: token}
	})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/status"}, {"GET", "/metrics"}, {"POST", "/reload"}, {"GET", "/log/level"}, {"PUT", "/log/level"},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			if code, body := do(t, tc.method, r.base+tc.path, "", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
				t.Fatalf("without a token: %d %s, want 401", code, body)
			}
			if code, _ := do(t, tc.method, r.base+tc.path, "wrong", ""); code != http.StatusUnauthorized {
				t.Fatalf("with a wrong token: %d, want 401", code)
			}
			if tc.method == "GET" {
				if code, _ := do(t, tc.method, r.base+tc.path, token, ""); code != http.StatusOK {
					t.Fatalf("with the token: %d, want 200", code)
				}
			}
		})
	}
	if code, _ := do(t, "POST", r.base+"/reload", token, ""); code != http.StatusOK {
		t.Fatalf("POST /reload with the token: %d", code)
	}
	if code, _ := get(t, r.base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz without a token: %d, want 200", code)
	}
	if lvl.Level() != zapcore.InfoLevel {
		t.Fatalf("level changed by unauthorized PUTs: %v", lvl.Level())
	}
}

func TestLogLevel(t *testing.T) {
	lvl := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	r := startRig(t, func(*rig) admin.Options { return admin.Options{Level: &lvl} })
	// As the README's curl sends it: the form content type, a JSON body.
	if code, body := do(t, "PUT", r.base+"/log/level", "", `{"level":"debug"}`, "Content-Type", "application/x-www-form-urlencoded"); code != http.StatusOK || !strings.Contains(body, `"debug"`) {
		t.Fatalf("PUT /log/level: %d %s", code, body)
	}
	if lvl.Level() != zapcore.DebugLevel {
		t.Fatalf("level after PUT debug: %v", lvl.Level())
	}
	if code, body := get(t, r.base+"/log/level"); code != http.StatusOK || strings.TrimSpace(body) != `{"level":"debug"}` {
		t.Fatalf("GET /log/level: %d %s", code, body)
	}
	if code, _ := do(t, "PUT", r.base+"/log/level", "", `{"level":"loud"}`); code != http.StatusBadRequest || lvl.Level() != zapcore.DebugLevel {
		t.Fatalf("PUT a bad level: %d, level %v; want 400 and debug kept", code, lvl.Level())
	}
}
