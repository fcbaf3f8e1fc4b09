package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

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
	c := p.cfg
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

// testCA makes a CA and a certificate for 127.0.0.1 signed by it.
func testCA(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return roots, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// newTLSSim serves a simulator on a TLS listener until the test ends.
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
	roots, cert := testCA(t)
	addr, srv := newTLSSim(t, cert)
	p := newTestPool(t, Config{Hosts: []Host{{Address: addr, TLS: true, TLSConfig: &tls.Config{RootCAs: roots}}}, SessionsPerHost: 1}, nil)
	eventually(t, waitBound, func() bool { return p.Bound() == 1 }, "bound over TLS")
	r := newRecorder(1)
	if err := p.Sessions()[0].Submit(submitFrame(t, "secure", false), r, 1); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if res := recv(t, r.ch, "SubmitDone"); res.err != nil || res.status() != pdu.StatusOK {
		t.Fatalf("got %v %v", res.err, res.status())
	}
	if got := srv.Stats().Accepted; got != 1 {
		t.Errorf("simulator accepted %d, want 1", got)
	}

	// The system roots do not know the test CA: the handshake fails and
	// the slot stays down, logging why.
	bad := newTestPool(t, Config{Hosts: []Host{{Address: addr, TLS: true}}, SessionsPerHost: 1, ReconnectDelay: time.Second}, nil)
	eventually(t, waitBound, func() bool {
		return countLogs(bad.logs, zapcore.WarnLevel, "upstream connection down; reconnecting") > 0
	}, "handshake failure logged")
	if bad.Bound() != 0 {
		t.Errorf("bound with an unknown CA")
	}
}
