package mux_test

import (
	"bufio"
	"net"
	"net/netip"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

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
	bind := func(src string) pdu.Status {
		t.Helper()
		nc, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		if src != "" {
			hdr := proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)), nc.RemoteAddr())
			if _, err := hdr.WriteTo(nc); err != nil {
				t.Fatal(err)
			}
		}
		bind := &pdu.Bind{SystemID: []byte("branch"), Password: []byte("pw"), InterfaceVersion: pdu.InterfaceVersion34}
		if _, err := nc.Write(pdu.Append(nil, pdu.CmdBindTransceiver, 0, 1, bind)); err != nil {
			t.Fatal(err)
		}
		f, err := pdu.ReadFrame(bufio.NewReader(nc), nil, pdu.DefaultMaxLength)
		if err != nil {
			t.Fatalf("bind from %q: %v", src, err)
		}
		hd, _ := pdu.DecodeHeader(f)
		return hd.Status
	}
	if st := bind("192.0.2.10:4000"); st != pdu.StatusOK {
		t.Errorf("bind as 192.0.2.10 through the balancer: %v, want ESME_ROK", st)
	}
	if st := bind("203.0.113.5:4000"); st != pdu.StatusInvPassword {
		t.Errorf("bind as 203.0.113.5 through the balancer: %v, want ESME_RINVPASWD", st)
	}
	if st := bind(""); st != pdu.StatusInvPassword {
		t.Errorf("bind as the balancer itself: %v, want ESME_RINVPASWD", st)
	}
}
