package mux_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// With store.bolt, whose writes of message ids and reports the mux pairs
// into shared commits, and whose acknowledgements are committed lazily:
// many submits from two clients at once, every receipt reaches the
// client that sent its message, and every acknowledged report leaves
// the store.
func TestBoltReceiptsRouted(t *testing.T) {
	h := newHarnessFull(t, fmt.Sprintf("module = \"bolt\"\npath = %q", filepath.Join(t.TempDir(), "mux.db")), "", "")
	const n = 150
	clients := []struct {
		name, pw string
		c        *esme.Client
		ids      map[string]bool
	}{{name: "shop", pw: "shop-pw"}, {name: "bank", pw: "bank-pw"}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range clients {
		c := &clients[i]
		c.c = h.dial(c.name, c.pw, esme.Options{})
		c.ids = map[string]bool{}
		for range 5 { // submits in flight per client
			wg.Go(func() {
				for range n / 5 {
					st, id, err := c.c.Submit(ctxT(t), sm("4599999999", true, c.name))
					if err != nil || st != pdu.StatusOK || id == "" {
						t.Errorf("%s submit: status %v id %q err %v", c.name, st, id, err)
						return
					}
					mu.Lock()
					c.ids[id] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, c := range clients {
		if len(c.ids) != n {
			t.Fatalf("%s: %d distinct ids of %d submits", c.name, len(c.ids), n)
		}
		seen := map[string]bool{}
		for _, id := range collect(t, c.c, n, 30*time.Second) {
			if !c.ids[id] || seen[id] {
				t.Fatalf("receipt %s reached %s: not its message, or twice", id, c.name)
			}
			seen[id] = true
		}
	}
	st := h.cfg.Store.Module.(store.Store)
	eventually.That(t, 10*time.Second, "every client's queue emptied", func() bool {
		s, err := st.Stats(context.Background())
		return err == nil && s.Queued["shop"] == 0 && s.Queued["bank"] == 0
	})
}
