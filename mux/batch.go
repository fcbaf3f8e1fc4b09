package mux

import (
	"context"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
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

// The kinds of batch whose store writes pair.
const (
	pairIDs     = 0
	pairReports = 1
)

// Where the batch of a kind is (pairing.state).
const (
	pairIdle      = iota // no batch, or one that will not write
	pairPreparing        // handed over by its batcher, not written yet
	pairWriting          // in its store write
	pairFinishing        // written: answering for its items
)

// pairing lets a batch of message ids and a batch of reports share one
// store write, through store.JointWriter: with store.bolt that is one
// commit, where writes made apart take a commit each, one after the
// other, so that ids would often wait for a commit of reports before
// their own, and the other way round.
//
// A batch ready to write joins a batch of the other kind that waits for
// it. Else it waits for the other kind when that has a batch being
// prepared, or one answering for its items while its batcher has more
// queued (its next batch comes at once): both are bounded by that
// batcher's own work, and by one batch. Else (the other kind idle, or in
// its own write, which this one could not join anyway) it is written at
// once, alone.
//
// Each batch calls begin when its batcher hands it over, write at most
// once, and end when it is done, written or not.
type pairing struct {
	mu      sync.Mutex
	state   [2]int
	waiting [2]*pairedWrite // a batch of the kind waits for the other kind
}

// pairedWrite is the write of one batch and its results.
type pairedWrite struct {
	recs             []store.IDRecord
	items            []store.Item
	idsErr, itemsErr error
	alone            bool          // set before done is closed: write it alone
	done             chan struct{} // closed once the other batch wrote it too, or alone is set
}

func (p *pairing) begin(kind int) {
	p.mu.Lock()
	p.state[kind] = pairPreparing
	p.mu.Unlock()
}

// write writes w with jw: together with a batch of the other kind that
// waits for it, or after waiting for one, or alone.
func (p *pairing) write(ctx context.Context, jw store.JointWriter, kind int, w *pairedWrite) {
	other := 1 - kind
	p.mu.Lock()
	if o := p.waiting[other]; o != nil {
		p.waiting[other] = nil
		p.state[kind] = pairWriting
		p.mu.Unlock()
		recs, items := w.recs, o.items
		if kind == pairReports {
			recs, items = o.recs, w.items
		}
		w.idsErr, w.itemsErr = jw.PutIDsEnqueue(ctx, recs, items)
		o.idsErr, o.itemsErr = w.idsErr, w.itemsErr
		close(o.done)
		p.setState(kind, pairFinishing)
		return
	}
	if st := p.state[other]; st == pairPreparing || st == pairFinishing {
		w.done = make(chan struct{})
		p.waiting[kind] = w
		p.mu.Unlock()
		if <-w.done; !w.alone {
			p.setState(kind, pairFinishing)
			return
		}
		p.mu.Lock()
	}
	p.state[kind] = pairWriting
	p.mu.Unlock()
	w.idsErr, w.itemsErr = jw.PutIDsEnqueue(ctx, w.recs, w.items)
	p.setState(kind, pairFinishing)
}

func (p *pairing) setState(kind, st int) {
	p.mu.Lock()
	p.state[kind] = st
	p.mu.Unlock()
}

// end ends a batch of kind; more tells whether its batcher has items
// queued for a next batch. A batch of the other kind that waits goes
// alone, unless this batch wrote and a next one comes: it waits for that
// one, but for no further batch, so that batches that write nothing (all
// held, or resent) cannot keep it waiting.
func (p *pairing) end(kind int, more bool) {
	p.mu.Lock()
	wrote := p.state[kind] == pairFinishing
	p.state[kind] = pairIdle
	var o *pairedWrite
	if !more || !wrote {
		o = p.waiting[1-kind]
		p.waiting[1-kind] = nil
	}
	p.mu.Unlock()
	if o != nil {
		o.alone = true
		close(o.done)
	}
}
