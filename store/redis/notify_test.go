package redis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

// wakes records what Subscribe passed to wake.
type wakes struct {
	mu  sync.Mutex
	got []string // guarded by mu
}

func (w *wakes) wake(c string) {
	w.mu.Lock()
	w.got = append(w.got, c)
	w.mu.Unlock()
}

func (w *wakes) count(c string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, g := range w.got {
		if g == c {
			n++
		}
	}
	return n
}

// subscribe runs s.Subscribe until the test ends and waits for its first
// wake of every client.
func subscribe(t *testing.T, s *Store) *wakes {
	t.Helper()
	w := &wakes{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(ctx, w.wake) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	})
	eventually.That(t, 5*time.Second, "no wake of every client at subscription", func() bool { return w.count(store.AllClients) == 1 })
	return w
}

// TestSubscribe checks the wake-ups on one server, through a Sentinel
// and on a cluster: an
// Enqueue by one instance wakes the client on the other, once per batch
// and client; an instance does not hear its own; an Enqueue that added
// nothing (a resend) wakes nobody.
func TestSubscribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (a, b *Store)
	}{
		{"single", func(t *testing.T) (a, b *Store) {
			addr, _, _ := redistest.Start(t)
			p := uniquePrefix()
			return open(t, addr, p, store.Limits{}), open(t, addr, p, store.Limits{})
		}},
		{"sentinel", func(t *testing.T) (a, b *Store) {
			sentinel, _ := redistest.StartSentinel(t)
			p := uniquePrefix()
			return openAddrs(t, []string{sentinel}, redistest.SentinelMaster, p, store.Limits{}),
				openAddrs(t, []string{sentinel}, redistest.SentinelMaster, p, store.Limits{})
		}},
		{"cluster", func(t *testing.T) (a, b *Store) {
			addrs := redistest.StartCluster(t)
			p := uniquePrefix()
			return openAddrs(t, addrs, "", p, store.Limits{}), openAddrs(t, addrs, "", p, store.Limits{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := tc.open(t)
			wa, wb := subscribe(t, a), subscribe(t, b)
			items := []store.Item{
				{Client: "shop", Kind: store.KindReport, Frame: storetest.Frame("r1")},
				{Client: "shop", Kind: store.KindReport, Frame: storetest.Frame("r2")},
				{Client: "bank", Kind: store.KindMO, Frame: storetest.Frame("m1")},
			}
			if err := a.Enqueue(ctx, items); err != nil {
				t.Fatal(err)
			}
			eventually.That(t, 5*time.Second, "b not woken for shop and bank", func() bool {
				return wb.count("shop") == 1 && wb.count("bank") == 1
			})
			// A resend of r1 adds nothing; a new one for shop is heard.
			if err := a.Enqueue(ctx, items[:1]); err != nil {
				t.Fatal(err)
			}
			if err := b.Enqueue(ctx, []store.Item{{Client: "shop", Kind: store.KindReport, Frame: storetest.Frame("r3")}}); err != nil {
				t.Fatal(err)
			}
			eventually.That(t, 5*time.Second, "a not woken by b's enqueue", func() bool { return wa.count("shop") == 1 })
			if n := wb.count("shop"); n != 1 {
				t.Errorf("b woken %d times for shop; want 1 (a resend adds nothing, its own enqueue is not heard)", n)
			}
			if n := wa.count("bank"); n != 0 {
				t.Errorf("a heard its own enqueue for bank %d times", n)
			}
		})
	}
}

// TestSubscribeReconnect checks that after Redis restarts the
// subscription comes back and wakes every client, then hears wake-ups
// again.
func TestSubscribeReconnect(t *testing.T) {
	ctx := context.Background()
	addr, stop, restart := redistest.Start(t)
	p := uniquePrefix()
	a, b := open(t, addr, p, store.Limits{}), open(t, addr, p, store.Limits{})
	wb := subscribe(t, b)
	stop()
	restart()
	eventually.That(t, 20*time.Second, "no wake of every client after the restart", func() bool { return wb.count(store.AllClients) >= 2 })
	eventually.That(t, 10*time.Second, "no wake-up after the restart", func() bool {
		_ = a.Enqueue(ctx, []store.Item{{Client: "shop", Kind: store.KindMO, Frame: storetest.Frame("m")}})
		return wb.count("shop") > 0
	})
}
