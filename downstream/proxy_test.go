package downstream

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// remoteBinder is the fake binder that also records each bind's remote
// address, as the mux's allow check sees it.
type remoteBinder struct {
	*fakeBinder
	mu      sync.Mutex
	remotes []string
}

func (b *remoteBinder) Bind(s *Session, req BindRequest) (Handler, pdu.Status) {
	b.mu.Lock()
	b.remotes = append(b.remotes, req.Remote.String())
	b.mu.Unlock()
	return b.fakeBinder.Bind(s, req)
}

func (b *remoteBinder) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.remotes) == 0 {
		return ""
	}
	return b.remotes[len(b.remotes)-1]
}

// startProxied is startServer behind a ProxyListener trusting trusted.
func startProxied(t *testing.T, cfg Config, b Binder, trusted ...string) *testServer {
	t.Helper()
	cfg.Logger = zaptest.NewLogger(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var ps []netip.Prefix
	for _, s := range trusted {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	ts := &testServer{Server: NewServer(cfg, b), addr: ln.Addr().String(), served: make(chan error, 1)}
	pl := ProxyListener(ln, ps, time.Second)
	go func() { ts.served <- ts.Serve(pl) }()
	t.Cleanup(func() {
		_ = ts.Close()
		if err := eventually.Recv(t, ts.served, waitBound, "Serve return"); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

// proxied dials from local and sends a PROXY header of version (1 or 2)
// naming src as the client.
func proxied(t *testing.T, addr string, local net.Addr, version byte, src string) *esme.Conn {
	t.Helper()
	c := esme.DialConn(t, addr, esme.ConnOptions{LocalAddr: local})
	srcAddr := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src))
	dst := c.NetConn().RemoteAddr().(*net.TCPAddr)
	h := proxyproto.HeaderProxyFromAddrs(version, srcAddr, dst)
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	c.Write(b)
	return c
}

// TestProxyProtocol: behind a trusted balancer, the client's own address
// is what the binder, the per-address limits and the lockout see, from a
// v1 or a v2 header; a header from an untrusted address is refused as a
// malformed PDU; a trusted peer without a header keeps its own address.
func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	b := &remoteBinder{fakeBinder: newBinder()}
	ts := startProxied(t, Config{MaxPerIP: 1, BindFailLimit: 2, BindLockout: time.Minute}, b, "127.0.0.1/32")

	v1 := proxied(t, ts.addr, nil, 1, "192.0.2.7:40001")
	v1.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	if got := b.last(); got != "192.0.2.7:40001" {
		t.Errorf("v1: binder saw %s", got)
	}
	// Another client through the same balancer: max_connections_per_ip
	// (1 here) counts the client's address, not the balancer's.
	v2 := proxied(t, ts.addr, nil, 2, "[2001:db8::9]:40002")
	v2.Bind(pdu.CmdBindTransceiver, "bank", "vault", pdu.StatusOK)
	if got := b.last(); got != "[2001:db8::9]:40002" {
		t.Errorf("v2: binder saw %s", got)
	}

	// Wrong passwords from one client behind the balancer lock out that
	// client only.
	for range 2 {
		c := proxied(t, ts.addr, nil, 1, "198.51.100.1:1000")
		c.Bind(pdu.CmdBindTransmitter, "shop", "guess", pdu.StatusInvPassword)
		c.ExpectClosed(waitBound)
		// max_connections_per_ip is 1: the next from 198.51.100.1 waits
		// until the server has let this one go.
		eventually.That(t, waitBound, "the refused connection gone", func() bool { return ts.Stats().Connections == 2 })
	}
	locked := proxied(t, ts.addr, nil, 1, "198.51.100.1:1001")
	locked.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusBindFail)
	locked.ExpectClosed(waitBound)
	eventually.That(t, waitBound, "the locked-out connection gone", func() bool { return ts.Stats().Connections == 2 })
	other := proxied(t, ts.addr, nil, 1, "198.51.100.2:1000")
	other.Bind(pdu.CmdBindTransmitter, "shop", "secret", pdu.StatusOK)

	// Not trusted: the header is not honoured; the session reads it as a
	// PDU whose command_length is out of range.
	spoof := proxied(t, ts.addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, 1, "192.0.2.99:1")
	h := spoof.Read()
	if h.ID != pdu.CmdGenericNack || h.Status != pdu.StatusInvCmdLen {
		t.Errorf("untrusted header answered %v %v, want generic_nack ESME_RINVCMDLEN", h.ID, h.Status)
	}
	spoof.ExpectClosed(waitBound)

	// A trusted peer that sends no header binds as itself.
	direct := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	direct.Bind(pdu.CmdBindTransceiver, "bank", "vault", pdu.StatusOK)
	if got := b.last(); netip.MustParseAddrPort(got).Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("no header: binder saw %s", got)
	}
}

// A trusted peer that connects and sends nothing does not hold up other
// connections: headers are read beside Accept.
func TestProxyHeaderSlowPeer(t *testing.T) {
	t.Parallel()
	b := &remoteBinder{fakeBinder: newBinder()}
	ts := startProxied(t, Config{}, b, "127.0.0.0/8")
	for range 5 {
		_ = esme.DialConn(t, ts.addr, esme.ConnOptions{}) // silent
	}
	c := proxied(t, ts.addr, nil, 2, "192.0.2.8:5000")
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
}
