package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pool is a FleetLimiter whose one bucket holds a fixed number of tokens
// and never refills; it counts the Takes.
type pool struct {
	mu    sync.Mutex
	left  int
	takes int
	err   error // every Take fails with it when set
}

func (p *pool) TakeTokens(_ context.Context, _ string, _ float64, _, n int) (int, time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.takes++
	if p.err != nil {
		return 0, 0, p.err
	}
	got := min(n, p.left)
	p.left -= got
	return got, time.Hour, nil
}

func (p *pool) AcquireSlot(context.Context, store.Lease, int, time.Duration) (bool, error) {
	return false, errors.ErrUnsupported
}
func (p *pool) RenewSlots(context.Context, []store.Lease, time.Duration) error { return nil }
func (p *pool) ReleaseSlots(context.Context, []store.Lease) error              { return nil }

func TestBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate  float64
		burst int
		want  int
	}{
		{5, 5, 1},
		{0.1, 5, 1},
		{100, 100, 10},
		{101, 100, 11},
		{1000, 20, 20},
	}
	for _, tc := range tests {
		if got := store.Batch(tc.rate, tc.burst); got != tc.want {
			t.Errorf("Batch(%v, %d) = %d, want %d", tc.rate, tc.burst, got, tc.want)
		}
	}
}

// TestBucketShared checks that two instances' buckets on one fleet bucket
// pass exactly the fleet's tokens between them, taken in batches.
func TestBucketShared(t *testing.T) {
	t.Parallel()
	p := &pool{left: 100}
	a := store.NewBucket(p, "k", 100, 100, time.Second, nil)
	b := store.NewBucket(p, "k", 100, 100, time.Second, nil)
	passed := 0
	for range 200 {
		for _, bk := range []*store.Bucket{a, b} {
			if bk.Allow() {
				passed++
			}
		}
	}
	if passed != 100 {
		t.Fatalf("%d passed, want the fleet's 100", passed)
	}
	// 100 tokens in batches of 10, then one refused Take per bucket: the
	// refusal holds until the retry the fleet named (an hour).
	if p.takes != 12 {
		t.Fatalf("%d Takes, want 12", p.takes)
	}
}

// TestBucketDrained checks that a bucket given less than a batch waits
// for a batch's refill before it asks again.
func TestBucketDrained(t *testing.T) {
	t.Parallel()
	p := &pool{left: 13}
	b := store.NewBucket(p, "k", 100, 100, time.Second, nil) // batches of 10, refilled in 100ms
	start := time.Now()
	passed := 0
	for range 100 {
		if b.Allow() {
			passed++
		}
	}
	if time.Since(start) >= 100*time.Millisecond {
		t.Skip("100 Allows took over the refill time")
	}
	if passed != 13 || p.takes != 2 {
		t.Fatalf("%d passed in %d Takes, want 13 in 2", passed, p.takes)
	}
}

// TestBucketStoreDown checks that a failing store makes the bucket answer
// from its local bucket, asking the store once per Backoff and reporting
// each failure.
func TestBucketStoreDown(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	p := &pool{err: down}
	var errs []error
	b := store.NewBucket(p, "k", 0.001, 3, time.Second, func(err error) { errs = append(errs, err) })
	passed := 0
	for range 10 {
		if b.Allow() {
			passed++
		}
	}
	if passed != 3 {
		t.Fatalf("%d passed, want the local burst of 3", passed)
	}
	if p.takes != 1 || len(errs) != 1 || !errors.Is(errs[0], down) {
		t.Fatalf("%d Takes and errors %v, want one of each", p.takes, errs)
	}
}
