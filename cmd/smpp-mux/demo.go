package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/sim"
)

const demoConfig = `
[server]
listen = %q
mo_default = "demo"

[admin]
listen = ""

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
mo_numbers = ["4512345678"]

[[client]]
system_id = "shop"
password = "shop"
`

// cmdDemo runs the mux on 127.0.0.1:2775 in front of two simulated hosts
// of one provider account, which acknowledge every message and send its
// delivery receipt a second later over any of the account's binds.
func cmdDemo(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	listen := fs.String("listen", "127.0.0.1:2775", "address clients bind to")
	dlrDelay := fs.Duration("dlr-delay", time.Second, "delay before each delivery receipt")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s := sim.New(sim.Config{
		Accounts:    map[string]string{"demo-account": "demo-secret"},
		DLRDelay:    *dlrDelay,
		SendEnroute: true,
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
	cfg, err := mux.Parse(fmt.Appendf(nil, demoConfig, *listen, hosts[0], hosts[1]))
	if err != nil {
		return err
	}
	return serve(cfg, "", stderr, func(m *mux.Mux) {
		fmt.Fprintf(stdout, `smpp-mux demo: bind any SMPP 3.4 client to %s
  system_id "demo" password "demo"   (also gets MOs to 4512345678)
  system_id "shop" password "shop"
simulated provider hosts: %s and %s (one account; receipts come back over any bind)
Ctrl-C stops.
`, m.Addrs()[0], hosts[0], hosts[1])
	})
}
