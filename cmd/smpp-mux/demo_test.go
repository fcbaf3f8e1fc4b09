package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// syncBuffer is a bytes.Buffer a process writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDemo runs `smpp-mux demo` with args as a process and returns it
// with its stdout, once it has printed its banner.
func startDemo(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	out := new(syncBuffer)
	cmd := exec.Command(os.Args[0], append([]string{"demo"}, args...)...)
	cmd.Env = append(os.Environ(), "SMPP_MUX_MAIN=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("demo output:\n%s", out)
		}
	})
	eventually.That(t, 15*time.Second, "demo banner", func() bool { return strings.Contains(out.String(), "Ctrl-C stops.") })
	return cmd, out
}

// TestDemoEchoAndAdmin runs the demo as a process: its admin HTTP answers
// at the printed URL, and a message to 4500000000 comes back as an MO to
// the client that owns the sender's number, or to mo_default ("demo")
// when no client owns it.
func TestDemoEchoAndAdmin(t *testing.T) {
	muxAddr, adminAddr := freeAddr(t), freeAddr(t)
	proc, out := startDemo(t, "--listen", muxAddr, "--admin", adminAddr, "--dlr-delay", "50ms")
	if !strings.Contains(out.String(), "admin HTTP: http://"+adminAddr+"/") {
		t.Fatalf("no admin URL in the banner:\n%s", out)
	}
	eventually.That(t, 10*time.Second, "admin /healthz 200", func() bool {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	shop, err := esme.Dial(muxAddr, "shop", "shop", esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	demo, err := esme.Dial(muxAddr, "demo", "demo", esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()

	submit := func(src string, srcTON byte, text string) {
		t.Helper()
		sm := &pdu.SM{SourceTON: srcTON, SourceNPI: 1, SourceAddr: []byte(src),
			DestTON: 1, DestNPI: 1, DestAddr: []byte("4500000000"), DataCoding: 3, ShortMessage: []byte(text)}
		if st, _, err := shop.Submit(t.Context(), sm); err != nil || st != pdu.StatusOK {
			t.Fatalf("submit from %s: %v %v", src, st, err)
		}
	}
	mo := func(c *esme.Client, who string) pdu.SM {
		t.Helper()
		select {
		case f := <-c.Deliveries:
			var m pdu.SM
			if err := m.Decode(f[pdu.HeaderLen:]); err != nil {
				t.Fatal(err)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("no MO for %s", who)
		}
		panic("unreachable")
	}

	submit("4587654321", 1, "ping \xe6") // shop's own number; ISO-8859-1
	m := mo(shop, "shop")
	if m.ESMClass != 0 || string(m.SourceAddr) != "4500000000" || string(m.DestAddr) != "4587654321" ||
		m.DataCoding != 3 || string(m.ShortMessage) != "ping \xe6" {
		t.Fatalf("echo to shop: %+v", m)
	}
	submit("Shop", 5, "from a name") // a sender no client owns: mo_default
	m = mo(demo, "demo")
	if string(m.DestAddr) != "Shop" || string(m.ShortMessage) != "from a name" {
		t.Fatalf("echo to demo: %+v", m)
	}
	select {
	case f := <-shop.Deliveries:
		t.Fatalf("shop got a second deliver_sm: % x", f)
	default:
	}
	if code := stop(t, proc); code != 0 {
		t.Fatalf("demo exited %d after SIGTERM, want 0", code)
	}
}

// With the admin or SMPP port taken, the demo exits 1 naming the flag that
// moves it; an address that is not host:port exits 2; --admin "" runs
// without the admin HTTP.
func TestDemoAdminFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errs := runCmd(t, "", "demo", "--listen", freeAddr(t), "--admin", ln.Addr().String())
	if code != 1 || !strings.Contains(errs, "--admin ADDR") || !strings.Contains(errs, ln.Addr().String()) {
		t.Fatalf("admin port taken: exit %d, stderr %q; want 1 naming --admin and the address", code, errs)
	}

	code, _, errs = runCmd(t, "", "demo", "--listen", ln.Addr().String(), "--admin", "")
	if code != 1 || !strings.Contains(errs, "--listen ADDR") {
		t.Fatalf("SMPP port taken: exit %d, stderr %q; want 1 naming --listen", code, errs)
	}
	for _, args := range [][]string{{"--listen", "bogus"}, {"--listen", ""}, {"--admin", "2019"}} {
		code, _, errs := runCmd(t, "", append([]string{"demo"}, args...)...)
		if code != 2 || !strings.Contains(errs, args[0]+" ") || !strings.Contains(errs, "usage: smpp-mux demo") {
			t.Errorf("demo %q: exit %d, stderr %q; want 2 naming %s", args, code, errs, args[0])
		}
	}

	proc, out := startDemo(t, "--listen", freeAddr(t), "--admin", "")
	if strings.Contains(out.String(), "admin HTTP") {
		t.Fatalf("--admin \"\" still prints an admin URL:\n%s", out)
	}
	if code := stop(t, proc); code != 0 {
		t.Fatalf("demo exited %d after SIGTERM, want 0", code)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:2019": true, "127.0.0.2:2019": true, "[::1]:2019": true, "localhost:2019": true,
		"0.0.0.0:2019": false, ":2019": false, "192.0.2.1:2019": false, "example.com:2019": false, "nonsense": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
