package mux_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/testcert"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
)

// TLS on both sides: the provider's host serves TLS (as port 8775 does)
// with a certificate from a CA given by [[upstream.host]].ca, and clients
// bind to [server].tls_listen.
func TestTLSBothSides(t *testing.T) {
	certs := testcert.New(t)
	s := sim.New(sim.Config{Accounts: map[string]string{"acct": "secret"}, Logger: zaptest.NewLogger(t)})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{certs.Certificate}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-served
	})
	cfg, err := mux.Parse(fmt.Appendf(nil, `
[server]
listen = "127.0.0.1:0"
tls_listen = "127.0.0.1:0"
tls_cert = %q
tls_key = %q
[store]
module = "memory"
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 1
[[upstream.host]]
address = %q
tls = true
ca = %q
[[client]]
system_id = "shop"
password = "pw"
`, certs.Cert, certs.Key, ln.Addr(), certs.CA))
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
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	eventually.That(t, 5*time.Second, "m.UpstreamBound() == 1", func() bool { return m.UpstreamBound() == 1 })
	tlsAddr := m.Addrs()[1].String()
	c, err := esme.Dial(tlsAddr, "shop", "pw", esme.Options{TLS: &tls.Config{RootCAs: certs.Pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatalf("bind over TLS: %v", err)
	}
	defer c.Close()
	if st, _, err := c.Submit(ctxT(t), sm("4599999999", true, "secret message")); err != nil || st != pdu.StatusOK {
		t.Fatalf("submit over TLS: %v %v", st, err)
	}
	collect(t, c, 1, 5*time.Second)
	// TLS 1.1 is refused: the handshake fails, so no bind is answered.
	old := &tls.Config{RootCAs: certs.Pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11}
	_, err = esme.Dial(tlsAddr, "shop", "pw", esme.Options{TLS: old, Timeout: 2 * time.Second})
	var se *pdu.StatusError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("bind over TLS 1.1: %v, want the handshake refused", err)
	}
}
