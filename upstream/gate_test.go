package upstream

import (
	"context"
	"sync"
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// capGate is a Gate of n places that records the most held at once.
type capGate struct {
	places chan struct{}

	mu         sync.Mutex // guards held, most
	held, most int
}

func newCapGate(n int) *capGate { return &capGate{places: make(chan struct{}, n)} }

func (g *capGate) Acquire(ctx context.Context) (func(), error) {
	select {
	case g.places <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	g.mu.Lock()
	g.held++
	g.most = max(g.most, g.held)
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.held--
		g.mu.Unlock()
		<-g.places
	}, nil
}

// TestGateCapsBinds checks that a Gate of 2 keeps a pool of six slots to
// two binds, that slots whose connections end give their places to
// waiting ones, and that Close ends the slots still waiting.
func TestGateCapsBinds(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Hosts(2))
	g := newCapGate(2)
	p := newTestPool(t, Config{Hosts: hostsOf(srv.Addrs()...), SessionsPerHost: 3, Gate: g}, nil)
	eventually.That(t, waitBound, "two sessions bound", func() bool { return p.Bound() == 2 })
	if got := srv.Stats().SessionsBound; got != 2 {
		t.Fatalf("simulator sees %d sessions, want 2", got)
	}
	binds := srv.Stats().Binds
	for i, s := range p.Sessions() {
		if s.State() == StateBound {
			srv.StopHost(i / 3) // its slots' places go to the other host's
			break
		}
	}
	eventually.That(t, waitBound, "new binds in the freed places", func() bool { return srv.Stats().Binds > binds && p.Bound() == 2 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.most != 2 || g.held != 0 {
		t.Fatalf("at most %d places held, %d after Close; want 2 and 0", g.most, g.held)
	}
}
