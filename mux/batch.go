package mux

import (
	"context"
	"sync"
)

// batcher runs fn over items added from many goroutines, in batches of up
// to max: whatever queued while the previous batch ran. It is how the mux
// gets group commit from the store: one fsync for many message ids or
// reports, without a timer.
type batcher[T any] struct {
	ch   chan T
	max  int
	fn   func([]T)
	stop chan struct{}
	once sync.Once
}

func newBatcher[T any](queue, max int, fn func([]T)) *batcher[T] {
	return &batcher[T]{ch: make(chan T, queue), max: max, fn: fn, stop: make(chan struct{})}
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
