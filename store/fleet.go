package store

import (
	"context"
	"time"
)

// Lease is one slot of a fleet-wide semaphore (FleetLimiter): Key names
// the semaphore, ID the slot. The caller makes the ID, unique among the
// slots of every instance (the mux: a random instance name and a counter),
// so that it can hold a slot it took while the store was unreachable and
// have it counted once the store is back (RenewSlots).
type Lease struct {
	Key string
	ID  string
}

// FleetLimiter is implemented by stores that several mux instances share
// (store.redis): it enforces limits over the whole fleet instead of per
// instance. The mux looks for it on its store at start; a store without
// it (store.memory, store.bolt) leaves every limit local to the instance.
//
// Its methods are called from any goroutine (a bind, a submit, the upstream
// sessions, the mux's heartbeat), each bounded by ctx: the mux gives a
// short deadline, and treats an error (the store unreachable) as "enforce
// the limit locally for now", never as a refusal.
//
// The semaphore: AcquireSlot takes a slot of key lease.Key when fewer than
// limit slots are held by the fleet. A slot lives ttl unless renewed:
// each instance renews the slots it holds on a heartbeat (RenewSlots, with ttl
// a few heartbeats long), so the slots of an instance that died expire by
// themselves. ReleaseSlots gives slots back at once.
//
// The rate limiter: TakeTokens takes up to n tokens of the GCRA bucket key,
// which refills at rate tokens per second up to burst, shared by the
// fleet; callers take small batches (Bucket) rather than one token per
// message.
type FleetLimiter interface {
	// AcquireSlot takes slot l of semaphore l.Key if fewer than limit
	// other slots are held; ok is false when the semaphore is full.
	// Taking a slot already held renews it and succeeds.
	AcquireSlot(ctx context.Context, l Lease, limit int, ttl time.Duration) (ok bool, err error)

	// RenewSlots makes each of ls live ttl from now, adding back any that
	// expired meanwhile (the store was unreachable, or lost its data),
	// even beyond the limit: a slot is never taken from a live holder.
	// AcquireSlot refuses new slots until the count is back under the limit.
	RenewSlots(ctx context.Context, ls []Lease, ttl time.Duration) error

	// ReleaseSlots gives slots back. Unknown slots are ignored.
	ReleaseSlots(ctx context.Context, ls []Lease) error

	// TakeTokens takes up to n tokens (n >= 1) of the fleet's bucket key that
	// refills at rate tokens per second (> 0) and holds at most burst
	// (>= 1); got is how many it took, from 0 to n. When got is 0, retry
	// says how long until a token is there again.
	TakeTokens(ctx context.Context, key string, rate float64, burst, n int) (got int, retry time.Duration, err error)
}
