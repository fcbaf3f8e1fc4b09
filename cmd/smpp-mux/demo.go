package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/sim"
)

// The demo's numbers. A message to echoNumber comes back to its sender as
// an MO, addressed to the submit's source_addr; MOs are routed by that
// address like any MO: to the client whose mo_numbers hold it, else to
// mo_default.
const (
	echoNumber = "4500000000"
	demoNumber = "4512345678" // the demo client's; also mo_default
	shopNumber = "4587654321" // the shop client's
)

const demoConfig = `
[server]
listen = %q
mo_default = "demo"

[admin]
listen = %q
token = %q

[log]
level = "info"

[store]
module = "memory"

[upstream]
system_id = "demo-account"
password = "demo-secret"
sessions_per_host = 2
reconnect_delay = "2s"

[[upstream.host]]
address = %q

[[upstream.host]]
address = %q

[[client]]
system_id = "demo"
password = "demo"
mo_numbers = [%q]

[[client]]
system_id = "shop"
password = "shop"
mo_numbers = [%q]
`

// cmdDemo runs the mux on 127.0.0.1:2775 in front of two simulated hosts
// of one provider account, which acknowledge every message, send its
// delivery receipt a second later over any of the account's binds, and
// echo messages to echoNumber back as MOs. The admin HTTP listens on
// 127.0.0.1:2019.
func cmdDemo(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stdout)
	listen := fs.String("listen", "127.0.0.1:2775", "`ADDR` clients bind to")
	adminAddr := fs.String("admin", "127.0.0.1:2019", "`ADDR` of the admin HTTP (status page, /metrics, /status); \"\" turns it off")
	dlrDelay := fs.Duration("dlr-delay", time.Second, "delay before each delivery receipt")
	if err := fs.parse(args); err != nil {
		return err
	}
	for _, f := range []struct{ name, addr string }{{"listen", *listen}, {"admin", *adminAddr}} {
		if _, _, err := net.SplitHostPort(f.addr); err != nil && (f.addr != "" || f.name == "listen") {
			return flagErr("--%s %q: want host:port", f.name, f.addr)
		}
	}
	// The admin port first: when it is taken, say which flag moves it
	// before anything else starts.
	var adminLn net.Listener
	var token string
	if *adminAddr != "" {
		ln, err := net.Listen("tcp", *adminAddr)
		if err != nil {
			return fmt.Errorf("admin HTTP: %w (move it with --admin ADDR, or turn it off with --admin \"\")", err)
		}
		adminLn = ln
		defer ln.Close()
		if !loopback(*adminAddr) {
			token = newToken()
		}
	}
	s := sim.New(sim.Config{
		Accounts:    map[string]string{"demo-account": "demo-secret"},
		DLRDelay:    *dlrDelay,
		SendEnroute: true,
		EchoNumber:  echoNumber,
	})
	var hosts []string
	var serving sync.WaitGroup // the simulator's hosts
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx) // ends every Serve
		serving.Wait()
	}()
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hosts = append(hosts, ln.Addr().String())
		serving.Go(func() { _ = s.Serve(ln) })
	}
	cfg, err := mux.Parse(fmt.Appendf(nil, demoConfig, *listen, *adminAddr, token,
		hosts[0], hosts[1], demoNumber, shopNumber))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	err = serve(cfg, serveOptions{adminLn: adminLn, ready: func(m *mux.Mux) {
		fmt.Fprintf(stdout, `smpp-mux demo: bind any SMPP 3.4 client to %s
  system_id "demo" password "demo"   number %s; also gets MOs to numbers no client has
  system_id "shop" password "shop"   number %s
submit_sm to %s comes back as an MO to your source_addr: use your number
simulated provider hosts: %s and %s (one account; receipts come back over any bind)
`, m.Addrs()[0], demoNumber, shopNumber, echoNumber, hosts[0], hosts[1])
		if adminLn != nil {
			fmt.Fprintf(stdout, "admin HTTP: http://%s/ (status page, /metrics, /healthz, /status)\n", adminLn.Addr())
			if token != "" {
				fmt.Fprintf(stdout, "  off loopback it needs: Authorization: Bearer %s\n", token)
			}
		}
		fmt.Fprintln(stdout, "Ctrl-C stops.")
	}}, stderr)
	if errors.Is(err, syscall.EADDRINUSE) {
		err = fmt.Errorf("%w (move it with --listen ADDR)", err)
	}
	return err
}

// loopback reports whether addr's host is a loopback address or
// localhost, where the admin HTTP needs no token.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback() || strings.EqualFold(host, "localhost")
}

// newToken returns a random admin token for a demo whose admin HTTP is
// not on loopback.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
