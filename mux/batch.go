package mux

import (
	"context"
	"sync"
	"time"
)

// offPathLinger is how long the batchers of work off the messages' path
// (traces, the expiry of ids with a final receipt) wait after a batch's
// first item for more: at 2,000 msg/s a store call then carries tens of
// messages rather than one or two, and store.redis writes a batch with
// one command. Nothing waits for that work.
const offPathLinger = 20 * time.Millisecond

// batcher runs fn over items added from many goroutines, in batches of up
// to max: whatever queued while the previous batch ran. It is how the mux
// gets group commit from the store: one fsync for many message ids or
// reports, without a timer.
type batcher[T any] struct {
	ch     chan T
	max    int
	fn     func([]T)
	linger time.Duration // see lingering
	stop   chan struct{}
	once   sync.Once
}

func newBatcher[T any](queue, max int, fn func([]T)) *batcher[T] {
	return &batcher[T]{ch: make(chan T, queue), max: max, fn: fn, stop: make(chan struct{})}
}

// lingering makes b wait up to d after a batch's first item for more (up
// to max) before it runs fn: fewer, larger calls, each later by up to d.
// Only for work nothing waits for.
func (b *batcher[T]) lingering(d time.Duration) *batcher[T] {
	b.linger = d
	return b
}

// add queues v, waiting while the queue is full (backpressure on the
// caller). It returns false once the batcher is stopping.
func (b *batcher[T]) add(v T) bool {
	select {
	case <-b.stop:
		return false
	default:
	}
	select {
	case b.ch <- v:
		return true
	case <-b.stop:
		return false
	}
}

// tryAdd queues v unless the queue is full or the batcher is stopping,
// without waiting: for work that may be skipped rather than hold the
// caller up.
func (b *batcher[T]) tryAdd(v T) bool {
	select {
	case <-b.stop:
		return false
	default:
	}
	select {
	case b.ch <- v:
		return true
	default:
		return false
	}
}

// run processes batches until ctx ends, then processes what is left.
func (b *batcher[T]) run(ctx context.Context) {
	batch := make([]T, 0, b.max)
	for {
		select {
		case v := <-b.ch:
			batch = b.fill(append(batch[:0], v))
			if b.linger > 0 && len(batch) < b.max {
				batch = b.gather(ctx, batch)
			}
			b.fn(batch)
			clear(batch)
		case <-ctx.Done():
			b.once.Do(func() { close(b.stop) })
			for {
				batch = b.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				b.fn(batch)
			}
		}
	}
}

// gather appends what comes within the linger, up to max; it returns
// early when ctx ends.
func (b *batcher[T]) gather(ctx context.Context, batch []T) []T {
	t := time.NewTimer(b.linger)
	defer t.Stop()
	for len(batch) < b.max {
		select {
		case v := <-b.ch:
			batch = append(batch, v)
		case <-t.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// fill appends whatever is queued, up to max.
func (b *batcher[T]) fill(batch []T) []T {
	for len(batch) < b.max {
		select {
		case v := <-b.ch:
			batch = append(batch, v)
		default:
			return batch
		}
	}
	return batch
}
