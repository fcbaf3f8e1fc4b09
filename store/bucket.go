package store

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bucket is a token bucket shared by a fleet of instances through a
// FleetLimiter, without a round trip per token: it takes tokens from the
// fleet's bucket in batches of Batch(rate, burst) and hands them out
// locally. Given less than a batch (the fleet's bucket is drained), it
// refuses locally, once what it got is spent, until the bucket has had
// time to refill a batch (or, given none, has a token again, if later):
// an instance over the rate asks about ten times a second, not once per
// token. The fleet then passes at most burst + rate × T tokens
// over any time T from the shared bucket, plus what each instance took
// before T and spends within it: at most one batch (a tenth of a second's
// worth) per instance, since a batch is held for at most Hold.
//
// When the FleetLimiter fails (the store unreachable, or slower than the
// timeout), the Bucket answers from a local bucket of the same rate and
// burst, as an instance without a shared store does, and asks the store
// again after Backoff: a dead store costs one timeout per Backoff, not
// one per token.
//
// Allow is safe for concurrent use; callers wait for one another while
// one of them asks the store.
type Bucket struct {
	fl      FleetLimiter
	key     string
	rate    float64
	burst   int
	batch   int
	refill  time.Duration // time the fleet's bucket takes to refill a batch
	timeout time.Duration
	onErr   func(error) // called after each failed TakeTokens, outside any lock

	local *rate.Limiter // used while the store fails

	mu     sync.Mutex // guards the fields below, and serialises TakeTokens calls
	have   int        // tokens taken from the fleet and not handed out yet
	expiry time.Time  // have is dropped then
	empty  time.Time  // the fleet's bucket is empty until then
	down   time.Time  // the store failed: answer locally until then
}

// Timing of a Bucket.
const (
	// Hold is how long tokens taken from the fleet stay usable: an
	// instance that goes quiet does not keep them for its next burst.
	Hold = time.Second
	// Backoff is how long a Bucket answers locally after the store
	// failed, before it asks again.
	Backoff = time.Second
)

// Batch is how many tokens a Bucket takes from the fleet at once: a
// tenth of a second's worth at rate, at least 1 and at most burst.
func Batch(rate float64, burst int) int {
	return max(1, min(burst, int(math.Ceil(rate/10))))
}

// NewBucket returns a Bucket on fl's bucket key, of rate tokens per second
// (> 0) and burst (>= 1). Each call to the store is bounded by timeout;
// onErr (nil: ignored) hears of every failed call, from the goroutine of
// the Allow that made it.
func NewBucket(fl FleetLimiter, key string, r float64, burst int, timeout time.Duration, onErr func(error)) *Bucket {
	if onErr == nil {
		onErr = func(error) {}
	}
	return &Bucket{
		fl: fl, key: key, rate: r, burst: burst, batch: Batch(r, burst), timeout: timeout, onErr: onErr,
		refill: time.Duration(float64(Batch(r, burst)) / r * float64(time.Second)),
		local:  rate.NewLimiter(rate.Limit(r), burst),
	}
}

// Allow takes a token: from the batch in hand, else from the fleet (or,
// while the store fails, from the local bucket). It reports false when
// none is there.
func (b *Bucket) Allow() bool {
	now := time.Now()
	b.mu.Lock()
	ok, err := b.allowLocked(now)
	b.mu.Unlock()
	if err != nil {
		b.onErr(err)
	}
	return ok
}

func (b *Bucket) allowLocked(now time.Time) (bool, error) {
	if b.have > 0 && now.Before(b.expiry) {
		b.have--
		return true, nil
	}
	b.have = 0
	switch {
	case now.Before(b.down):
		return b.local.AllowN(now, 1), nil
	case now.Before(b.empty):
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	got, retry, err := b.fl.TakeTokens(ctx, b.key, b.rate, b.burst, b.batch)
	cancel()
	if err != nil {
		b.down = now.Add(Backoff)
		return b.local.AllowN(now, 1), err
	}
	if got < b.batch {
		b.empty = now.Add(max(retry, b.refill))
	}
	if got <= 0 {
		return false, nil
	}
	b.have, b.expiry = got-1, now.Add(Hold)
	return true, nil
}
