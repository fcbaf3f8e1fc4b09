package redis

import (
	"context"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/store"
)

// TestLimits runs the fleet limits on one server, two instances sharing it.
func TestLimits(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	p := uniquePrefix()
	testLimits(t, open(t, addr, p, store.Limits{}), open(t, addr, p, store.Limits{}))
}

// TestLimitsCluster runs them on a three-master cluster: each semaphore
// and bucket is one key, so one slot.
func TestLimitsCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	p := uniquePrefix()
	testLimits(t, openAddrs(t, addrs, "", p, store.Limits{}), openAddrs(t, addrs, "", p, store.Limits{}))
}

func testLimits(t *testing.T, a, b *Store) {
	t.Run("semaphore", func(t *testing.T) { testSemaphore(t, a, b) })
	t.Run("expiry", func(t *testing.T) { testSlotExpiry(t, a, b) })
	t.Run("renew", func(t *testing.T) { testRenew(t, a, b) })
	t.Run("tokens", func(t *testing.T) { testTokens(t, a, b) })
}

// acquire is AcquireSlot that fails the test on an error.
func acquire(t *testing.T, s *Store, key, id string, limit int, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.AcquireSlot(context.Background(), store.Lease{Key: key, ID: id}, limit, ttl)
	if err != nil {
		t.Fatalf("AcquireSlot %s %s: %v", key, id, err)
	}
	return ok
}

// testSemaphore: two instances share a cap of 2; a held slot is taken
// again; a released one frees room.
func testSemaphore(t *testing.T, a, b *Store) {
	const key, ttl = "binds:shop", time.Minute
	if !acquire(t, a, key, "a1", 2, ttl) || !acquire(t, b, key, "b1", 2, ttl) {
		t.Fatal("the first two slots were refused")
	}
	if acquire(t, a, key, "a2", 2, ttl) {
		t.Fatal("a third slot was given with a cap of 2")
	}
	if !acquire(t, b, key, "b1", 2, ttl) {
		t.Fatal("a held slot was refused when taken again")
	}
	if !acquire(t, a, "binds:other", "a2", 2, ttl) {
		t.Fatal("another key shares the cap")
	}
	if err := b.ReleaseSlots(context.Background(), []store.Lease{{Key: key, ID: "b1"}, {Key: key, ID: "unknown"}}); err != nil {
		t.Fatal(err)
	}
	if !acquire(t, a, key, "a2", 2, ttl) {
		t.Fatal("no room after a release")
	}
}

// testSlotExpiry: the slot of an instance that stops renewing expires, and
// its room goes to another.
func testSlotExpiry(t *testing.T, a, b *Store) {
	const key = "sessions:acct"
	if !acquire(t, a, key, "dead", 1, 100*time.Millisecond) {
		t.Fatal("first slot refused")
	}
	if acquire(t, b, key, "live", 1, time.Minute) {
		t.Fatal("second slot given with a cap of 1")
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !acquire(t, b, key, "live", 1, time.Minute) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the unrenewed slot never expired")
		}
	}
}

// testRenew: a slot renewed after it was lost is counted again, beyond
// the cap, and keeps new slots out.
func testRenew(t *testing.T, a, b *Store) {
	ctx := context.Background()
	const key, ttl = "binds:renew", time.Minute
	lost := store.Lease{Key: key, ID: "a1"}
	if !acquire(t, a, key, lost.ID, 1, ttl) {
		t.Fatal("first slot refused")
	}
	if err := a.ReleaseSlots(ctx, []store.Lease{lost}); err != nil { // as if it expired
		t.Fatal(err)
	}
	if !acquire(t, b, key, "b1", 1, ttl) {
		t.Fatal("no room after the slot was lost")
	}
	if err := a.RenewSlots(ctx, []store.Lease{lost, {Key: "binds:renew2", ID: "a2"}}, ttl); err != nil {
		t.Fatal(err)
	}
	if err := b.ReleaseSlots(ctx, []store.Lease{{Key: key, ID: "b1"}}); err != nil {
		t.Fatal(err)
	}
	if acquire(t, b, key, "b2", 1, ttl) {
		t.Fatal("the renewed slot was not counted")
	}
	if acquire(t, b, "binds:renew2", "b3", 1, ttl) {
		t.Fatal("a slot renewed on another key was not counted")
	}
}

// testTokens: two instances draw from one bucket, at most what it holds.
func testTokens(t *testing.T, a, b *Store) {
	ctx := context.Background()
	take := func(s *Store, n int) (int, time.Duration) {
		t.Helper()
		got, retry, err := s.TakeTokens(ctx, "rule:shop:0", 0.001, 5, n)
		if err != nil {
			t.Fatalf("TakeTokens: %v", err)
		}
		return got, retry
	}
	if got, _ := take(a, 3); got != 3 {
		t.Fatalf("a took %d of 3, want 3", got)
	}
	if got, _ := take(b, 3); got != 2 {
		t.Fatalf("b took %d of 3, want the 2 left", got)
	}
	if got, retry := take(a, 1); got != 0 || retry <= 0 {
		t.Fatalf("a took %d from an empty bucket, retry %v; want 0 and a retry", got, retry)
	}
}

func TestGCRALimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate float64
		want redis_rate.Limit
	}{
		{50, redis_rate.Limit{Rate: 50, Burst: 7, Period: time.Second}},
		{2.5, redis_rate.Limit{Rate: 2500, Burst: 7, Period: 1000 * time.Second}},
		{0.5, redis_rate.Limit{Rate: 500, Burst: 7, Period: 1000 * time.Second}},
		{1e-6, redis_rate.Limit{Rate: 1, Burst: 7, Period: 1000 * time.Second}},
	}
	for _, tc := range tests {
		if got := gcraLimit(tc.rate, 7); got != tc.want {
			t.Errorf("gcraLimit(%v) = %v, want %v", tc.rate, got, tc.want)
		}
	}
}
