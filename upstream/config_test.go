package upstream

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/testcert"

	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
)

func TestNewPoolValidates(t *testing.T) {
	t.Parallel()
	ok := Config{Hosts: hostsOf("127.0.0.1:2775"), SystemID: "acct"}
	cases := []struct {
		name string
		edit func(*Config)
		h    Handler
		key  string // "" means valid
	}{
		{"valid", func(*Config) {}, newDeliverRecorder(), ""},
		{"no hosts", func(c *Config) { c.Hosts = nil }, newDeliverRecorder(), "upstream.host"},
		{"bad address", func(c *Config) { c.Hosts = hostsOf("a.smpp.gatewayapi.com") }, newDeliverRecorder(), "upstream.host[0].address"},
		{"bad bind", func(c *Config) { c.Bind = pdu.CmdSubmitSM }, newDeliverRecorder(), "upstream.bind"},
		{"no system_id", func(c *Config) { c.SystemID = "" }, newDeliverRecorder(), "upstream.system_id"},
		{"long password", func(c *Config) { c.Password = strings.Repeat("x", 65) }, newDeliverRecorder(), "upstream.password"},
		{"no handler for a transceiver", func(*Config) {}, nil, "upstream.bind"},
		{"transmitter without handler", func(c *Config) { c.Bind = pdu.CmdBindTransmitter }, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tc.edit(&cfg)
			p, err := NewPool(cfg, tc.h)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("NewPool: %v", err)
				}
				_ = p.Close()
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
				t.Fatalf("NewPool: %v, want an error naming %s", err, tc.key)
			}
		})
	}
}

func TestConfigDefaultsAndRedaction(t *testing.T) {
	t.Parallel()
	p, err := NewPool(Config{Hosts: hostsOf("a:1", "b:2"), SystemID: "acct", Password: "hunter2"}, newDeliverRecorder())
	if err != nil {
		t.Fatal(err)
	}
	c := *p.Sessions()[0].cfg
	if c.Bind != pdu.CmdBindTransceiver || c.SessionsPerHost != 2 || c.Window != 50 || c.EnquireLink != 30*time.Second ||
		c.ReconnectDelay != 30*time.Second || c.ResponseTimeout != 30*time.Second || c.ThrottlePause != time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if n := len(p.Sessions()); n != 4 {
		t.Errorf("%d sessions, want 4", n)
	}
	if strings.Contains(c.String(), "hunter2") {
		t.Errorf("String shows the password: %s", c)
	}
	if s := p.Sessions()[0].State(); s != StateIdle || s.String() != "idle" {
		t.Errorf("state before Start: %v", s)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	top := func(n int64) int64 { return n - 1 }
	b := backoff{max: 2 * time.Second, rand: top}
	want := []time.Duration{250, 500, 1000, 2000, 2000}
	for i, w := range want {
		if got := b.next(); got != w*time.Millisecond {
			t.Errorf("attempt %d: ceiling %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.reset()
	if got := b.next(); got != 250*time.Millisecond {
		t.Errorf("after reset: %v, want the quick first retry", got)
	}
	// Full jitter: any delay from just above zero to the ceiling.
	b = backoff{max: 30 * time.Second}
	for range 200 {
		b.reset()
		if d := b.next(); d <= 0 || d > firstRetry {
			t.Fatalf("first retry %v, want (0, %v]", d, firstRetry)
		}
	}
	b.attempt = 1000
	if d := b.next(); d <= 0 || d > 30*time.Second {
		t.Fatalf("late retry %v, want (0, 30s]", d)
	}
}

func newTLSSim(t *testing.T, cert tls.Certificate) (string, *sim.Server) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := sim.New(sim.Config{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; err != sim.ErrServerClosed {
			t.Errorf("sim Serve: %v", err)
		}
	})
	return ln.Addr().String(), srv
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certs := testcert.New(t)
	roots, cert := certs.Pool, certs.Certificate
	addr, srv := newTLSSim(t, cert)
	p := newTestPool(t, Config{Hosts: []Host{{Address: addr, TLS: true, TLSConfig: &tls.Config{RootCAs: roots}}}, SessionsPerHost: 1}, nil)
	eventually.That(t, waitBound, "bound over TLS", func() bool { return p.Bound() == 1 })
	r := newRecorder(1)
	if err := p.Sessions()[0].Submit(submitFrame(t, "secure", false), r, 1); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if res := eventually.Recv(t, r.ch, waitBound, "SubmitDone"); res.err != nil || res.status() != pdu.StatusOK {
		t.Fatalf("got %v %v", res.err, res.status())
	}
	if got := srv.Stats().Accepted; got != 1 {
		t.Errorf("simulator accepted %d, want 1", got)
	}

	// The system roots do not know the test CA: the handshake fails and
	// the slot stays down, logging why.
	bad := newTestPool(t, Config{Hosts: []Host{{Address: addr, TLS: true}}, SessionsPerHost: 1, ReconnectDelay: time.Second}, nil)
	eventually.That(t, waitBound, "handshake failure logged", func() bool {
		return countLogs(bad.logs, zapcore.WarnLevel, "upstream connection down; reconnecting") > 0
	})
	if bad.Bound() != 0 {
		t.Errorf("bound with an unknown CA")
	}
}

// TestConfigProblems checks that Problems lists every invalid setting,
// named by its [upstream] key, and that Defaults leaves negative counts
// for it to report.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	c := Config{
		Hosts:           []Host{{Address: "a:1"}, {Address: "b"}},
		SystemID:        strings.Repeat("x", 65),
		SystemType:      strings.Repeat("t", 13),
		SessionsPerHost: -1,
		Window:          -2,
	}
	c.Defaults()
	var keys []string
	for _, p := range c.Problems() {
		keys = append(keys, p.Key)
	}
	want := "host[1].address system_id system_type sessions_per_host window"
	if got := strings.Join(keys, " "); got != want {
		t.Fatalf("problems at %s; want %s", got, want)
	}
	if err := c.validate(); err == nil || err.Error() != `upstream.host[1].address: host[1]: not host:port: "b"` {
		t.Fatalf("validate: %v", err)
	}
	if ps := (&Config{}).Problems(); len(ps) != 2 || ps[0].Key != "host" || ps[1].Key != "system_id" || ps[1].Msg != "missing" {
		t.Fatalf("an empty config: %v", ps)
	}
}

// TestParseBind checks the [upstream] bind names.
func TestParseBind(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]pdu.CommandID{"": 0, "transceiver": pdu.CmdBindTransceiver, "transmitter": pdu.CmdBindTransmitter, "receiver": pdu.CmdBindReceiver} {
		if got, err := ParseBind(name); err != nil || got != want {
			t.Errorf("ParseBind(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := ParseBind("both"); err == nil || !strings.Contains(err.Error(), `want transceiver, transmitter or receiver; got "both"`) {
		t.Errorf("ParseBind(both): %v", err)
	}
}
