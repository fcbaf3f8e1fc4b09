package mux_test

import (
	"net"
	"net/netip"
	"testing"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// Behind a balancer in server.trusted_proxies, a client's allow list is
// checked against its own address from the PROXY header, not the
// balancer's; without the header the balancer's address is refused.
func TestTrustedProxyAllow(t *testing.T) {
	h := newHarnessConf(t, harnessConf{server: `trusted_proxies = ["127.0.0.1/32"]`, extra: `
[[client]]
system_id = "branch"
password = "pw"
allow = ["192.0.2.0/24"]
`})
	// bind binds as branch through the balancer, as the client at src
	// (none: the balancer itself), and expects the bind_transceiver_resp
	// status want.
	bind := func(src string, want pdu.Status) {
		t.Helper()
		c := esme.DialConn(t, h.addr, esme.ConnOptions{})
		defer c.Close()
		if src != "" {
			hdr := proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)), c.NetConn().RemoteAddr())
			b, err := hdr.Format()
			if err != nil {
				t.Fatal(err)
			}
			c.Write(b)
		}
		c.Bind(pdu.CmdBindTransceiver, "branch", "pw", want)
	}
	bind("192.0.2.10:4000", pdu.StatusOK)
	bind("203.0.113.5:4000", pdu.StatusInvPassword)
	bind("", pdu.StatusInvPassword)
}
