package sim_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

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
	a.send(pdu.CmdSubmitSM, textSM("never answered", 1)) // sits in the scheduler
	idle := dial(t, addrs[0], true)                      // never binds

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, c := range []*client{a, b} {
		c.waitClosed()
		if c.next(func(f frame) bool { return f.ID == pdu.CmdUnbind }).ID != pdu.CmdUnbind {
			t.Fatal("no unbind")
		}
	}
	idle.waitClosed()
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
	c.ignoreUnbind.Store(true)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v, want deadline exceeded", err)
	}
	c.waitClosed()
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
				c.send(pdu.CmdSubmitSM, textSM("load", 1))
			}
		})
	}
	wg.Wait()
	eventually(t, wait, func() bool { return srv.Stats().DLRsAcked > 0 }, "some receipts")
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
	a.waitClosed()
	if f := b.submit(textSM("still here", 0)); f.Status != pdu.StatusOK {
		t.Fatalf("host b after dropping a: %v", f.Status)
	}
	eventually(t, wait, func() bool { return srv.Stats().SessionsBound == 1 }, "one bound")

	again := dialBound(t, addrs[0], pdu.CmdBindTransceiver, true) // host a accepts again
	srv.DropSessions("")
	b.waitClosed()
	again.waitClosed()
	eventually(t, wait, func() bool { return srv.Stats().SessionsBound == 0 }, "none bound")
}

func TestStopHostRefusesThenStartsAgain(t *testing.T) {
	s := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "pw"))
	c := dialBound(t, s.Addrs()[0], pdu.CmdBindTransceiver, false)
	s.StopHost(0)
	select {
	case <-c.done:
	case <-time.After(wait):
		t.Fatal("session on the stopped host still open")
	}
	eventually(t, wait, func() bool {
		nc, err := net.DialTimeout("tcp", s.Addrs()[0], time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	}, "the stopped host to refuse connections")
	dialBound(t, s.Addrs()[1], pdu.CmdBindTransceiver, false) // the other host serves on
	s.StartHost(0)
	dialBound(t, s.Addrs()[0], pdu.CmdBindTransceiver, false)
}
