package sim_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// serve starts srv on n loopback listeners; the returned channel yields
// each Serve's result.
func serve(t *testing.T, srv *sim.Server, n int) ([]string, <-chan error) {
	t.Helper()
	errs := make(chan error, n)
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		go func() { errs <- srv.Serve(ln) }()
	}
	return addrs, errs
}

func TestShutdownUnbindsAndWaits(t *testing.T) {
	t.Parallel()
	srv := sim.New(sim.Config{Logger: zaptest.NewLogger(t), RespLatency: time.Hour, DLRDelay: time.Hour})
	addrs, errs := serve(t, srv, 2)
	a := dialBound(t, addrs[0], pdu.CmdBindTransceiver, true)
	b := dialBound(t, addrs[1], pdu.CmdBindReceiver, true)
	a.Send(pdu.CmdSubmitSM, textSM("never answered", 1)) // sits in the scheduler
	idle := dial(t, addrs[0], true)                      // never binds

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, c := range []*esme.Conn{a, b} {
		c.WaitClosed()
		if c.Next(func(f esme.Frame) bool { return f.ID == pdu.CmdUnbind }).ID != pdu.CmdUnbind {
			t.Fatal("no unbind")
		}
	}
	idle.WaitClosed()
	for range addrs {
		if err := <-errs; !errors.Is(err, sim.ErrServerClosed) {
			t.Fatalf("serve: %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, sim.ErrServerClosed) {
		t.Fatalf("serve after shutdown: %v", err)
	}
	if err := srv.InjectMO("x", "1", "2", 0, []byte("x")); !errors.Is(err, sim.ErrServerClosed) {
		t.Fatalf("inject after shutdown: %v", err)
	}
}

func TestShutdownClosesPeersThatIgnoreUnbind(t *testing.T) {
	t.Parallel()
	srv := sim.New(sim.Config{Logger: zaptest.NewLogger(t)})
	addrs, errs := serve(t, srv, 1)
	c := dialBound(t, addrs[0], pdu.CmdBindTransceiver, true)
	c.IgnoreUnbind(true)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v, want deadline exceeded", err)
	}
	c.WaitClosed()
	if err := <-errs; !errors.Is(err, sim.ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
}

func TestCloseUnderLoad(t *testing.T) {
	t.Parallel()
	srv := sim.New(sim.Config{Logger: zaptest.NewLogger(t), RespLatency: time.Millisecond,
		DLRDelay: time.Millisecond, SendEnroute: true, Record: -1})
	addrs, errs := serve(t, srv, 2)
	var wg sync.WaitGroup
	for i := range 4 {
		c := dialBound(t, addrs[i%2], pdu.CmdBindTransceiver, true)
		wg.Go(func() {
			for range 200 {
				c.Send(pdu.CmdSubmitSM, textSM("load", 1))
			}
		})
	}
	wg.Wait()
	eventually.That(t, wait, "some receipts", func() bool { return srv.Stats().DLRsAcked > 0 })
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for range addrs {
		if err := <-errs; !errors.Is(err, sim.ErrServerClosed) {
			t.Fatalf("serve: %v", err)
		}
	}
	if n := len(srv.Submits()); n != 0 {
		t.Fatalf("recorded %d with Record -1", n)
	}
}

func TestDropSessions(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2))
	addrs := srv.Addrs()
	a := dialBound(t, addrs[0], pdu.CmdBindTransceiver, true)
	b := dialBound(t, addrs[1], pdu.CmdBindTransceiver, true)

	srv.DropSessions(addrs[0])
	a.WaitClosed()
	if f := b.Submit(textSM("still here", 0)); f.Status != pdu.StatusOK {
		t.Fatalf("host b after dropping a: %v", f.Status)
	}
	eventually.That(t, wait, "one bound", func() bool { return srv.Stats().SessionsBound == 1 })

	again := dialBound(t, addrs[0], pdu.CmdBindTransceiver, true) // host a accepts again
	srv.DropSessions("")
	b.WaitClosed()
	again.WaitClosed()
	eventually.That(t, wait, "none bound", func() bool { return srv.Stats().SessionsBound == 0 })
}

func TestStopHostRefusesThenStartsAgain(t *testing.T) {
	s := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "pw"))
	c := dialBound(t, s.Addrs()[0], pdu.CmdBindTransceiver, false)
	s.StopHost(0)
	c.WaitClosed() // the session on the stopped host ends
	eventually.That(t, wait, "the stopped host to refuse connections", func() bool {
		nc, err := net.DialTimeout("tcp", s.Addrs()[0], time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	dialBound(t, s.Addrs()[1], pdu.CmdBindTransceiver, false) // the other host serves on
	s.StartHost(0)
	dialBound(t, s.Addrs()[0], pdu.CmdBindTransceiver, false)
}
