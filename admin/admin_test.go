package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/admin"
	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	_ "github.com/smpp-mux/smpp-mux/store/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanupM{m}) }

// cleanupM removes what the tests built once they have run.
type cleanupM struct{ *testing.M }

func (m cleanupM) Run() int {
	defer func() {
		if buildDir != "" {
			_ = os.RemoveAll(buildDir)
		}
	}()
	return m.M.Run()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	s := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "secret"))
	cfg, err := mux.Parse(fmt.Appendf(nil, `
[server]
listen = "127.0.0.1:0"
[store]
module = "memory"
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 1
reconnect_delay = "200ms"
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
[[client]]
system_id = "shop"
password = "pw"
`, s.Addrs()[0], s.Addrs()[1]))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mux.New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	as := admin.New(m, admin.Options{})
	served := make(chan error, 1)
	go func() { served <- as.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = as.Shutdown(ctx)
		<-served
		_ = m.Shutdown(ctx)
	})
	base := "http://" + ln.Addr().String()

	eventually.That(t, 10*time.Second, "/healthz answers 200", func() bool { code, _ := get(t, base+"/healthz"); return code == http.StatusOK })
	c, err := esme.Dial(m.Addrs()[0].String(), "shop", "pw", esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, _, err := c.Submit(t.Context(), &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")}); err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}

	code, body := get(t, base+"/status")
	var st mux.Status
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("/status: %d %s", code, body)
	}
	if len(st.Upstream) != 2 || st.Upstream[0].State != "bound" || len(st.Downstream) != 1 || st.Downstream[0].SystemID != "shop" || st.Downstream[0].BindType != "transceiver" {
		t.Fatalf("/status: %+v", st)
	}
	pedantic(t, m)
	code, body = get(t, base+"/metrics")
	for _, want := range []string{"smppmux_submits_total 1", `smppmux_submit_responses_total{status="ESME_ROK"} 1`, `smppmux_upstream_sessions{host=`, "go_goroutines",
		`smppmux_client_submits_total{client="shop"} 1`, `smppmux_client_submit_responses_total{client="shop",status="ESME_ROK"} 1`,
		`smppmux_upstream_submit_seconds_count{host=`, `smppmux_upstream_binds_total{host=`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}

	s.StopHost(0)
	s.StopHost(1)
	eventually.That(t, 10*time.Second, "/healthz answers 503 with no upstream bound", func() bool { code, _ := get(t, base+"/healthz"); return code == http.StatusServiceUnavailable })
}
