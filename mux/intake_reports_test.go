package mux

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

// fakeStore answers LookupID from a map and counts the calls; the other
// methods are not used by resolve.
type fakeStore struct {
	store.Store
	mu      sync.Mutex
	ids     map[string]string
	lookups int
	err     error
}

func (f *fakeStore) LookupID(_ context.Context, id string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.err != nil {
		return "", false, f.err
	}
	c, ok := f.ids[id]
	return c, ok, nil
}

// batchStore adds LookupIDs, counting its calls.
type batchStore struct {
	*fakeStore
	calls int
}

func (b *batchStore) LookupIDs(_ context.Context, ids []string) ([]string, []bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.err != nil {
		return nil, nil, b.err
	}
	clients, found := make([]string, len(ids)), make([]bool, len(ids))
	for i, id := range ids {
		clients[i], found[i] = b.ids[id]
	}
	return clients, found, nil
}

func receipts(ids ...string) []report {
	rs := make([]report, len(ids))
	for i, id := range ids {
		rs[i] = report{kind: store.KindReport, id: id}
	}
	return rs
}

func clientsOf(rs []report) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.client
	}
	return out
}

func TestResolveBatch(t *testing.T) {
	ids := map[string]string{
		"a1b":    "shop", // stored from a hex submit_sm_resp, reported in decimal (2587)
		"ffff01": "bank",
		"77":     "news",
	}
	batch := func() []report {
		rs := receipts("2587", "FFFF01", "unknown-id", "77", "")
		rs = append(rs, report{kind: store.KindMO, id: "77"}, report{kind: store.KindReport, id: "77", client: "set"})
		return rs
	}
	want := []string{"shop", "bank", "", "news", "", "", "set"}

	t.Run("batch lookup", func(t *testing.T) {
		bs := &batchStore{fakeStore: &fakeStore{ids: ids}}
		in := &Intake{shared: shared{store: bs}}
		rs := batch()
		if err := in.resolve(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
		if got := clientsOf(rs); !equal(got, want) {
			t.Errorf("clients %q, want %q", got, want)
		}
		// First keys in one call, the other bases of the misses in a second.
		if bs.calls != 2 || bs.lookups != 0 {
			t.Errorf("%d LookupIDs and %d LookupID calls, want 2 and 0", bs.calls, bs.lookups)
		}
	})
	t.Run("one lookup each", func(t *testing.T) {
		fs := &fakeStore{ids: ids}
		in := &Intake{shared: shared{store: fs}}
		rs := batch()
		if err := in.resolve(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
		if got := clientsOf(rs); !equal(got, want) {
			t.Errorf("clients %q, want %q", got, want)
		}
	})
	t.Run("error", func(t *testing.T) {
		bs := &batchStore{fakeStore: &fakeStore{ids: ids, err: errors.New("read failed")}}
		in := &Intake{shared: shared{store: bs}}
		in.idFallback.put("77", "news", time.Now().Add(time.Hour))
		rs := receipts("77", "a1b")
		if err := in.resolve(context.Background(), rs); err == nil {
			t.Fatal("no error")
		}
		if got := clientsOf(rs); !equal(got, []string{"news", ""}) {
			t.Errorf("clients %q; want the one found in memory, and none for the other", got)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
