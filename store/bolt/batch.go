package bolt

import (
	"errors"
	"sync"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"
)

// maxBatch bounds how many calls share one transaction, so that one
// commit's size, and the wait of the first caller in it, stay bounded.
const maxBatch = 1024

// errLead tells a waiting caller that it now leads the next commit.
var errLead = errors.New("store.bolt: lead the next commit")

// batcher is group commit: a caller that finds no commit running commits
// its own write at once; callers arriving meanwhile queue up, and the
// first of them commits all the queued writes in one transaction (one
// fsync) when the running commit ends. One caller alone pays one fsync
// and no added delay, unlike bbolt's DB.Batch, which waits
// MaxBatchDelay for company.
//
// A write function may run more than once (a failed shared transaction is
// retried one function per transaction, so that one bad write fails only
// its own caller). It must only change the transaction, and reset any
// result it reports at its start.
//
// Writes nobody waits for (the store's acknowledgements, see ack.go) ride
// along: before each transaction the leader asks rider for them, runs
// them first in the transaction, and tells rider whether they were
// committed.
type batcher struct {
	db *bbolt.DB

	// rider, when set, returns the write to run first in the next
	// transaction (nil when there is none) and a function told whether
	// it was committed. It is called by one leader at a time.
	rider func() (fn func(*bbolt.Tx) error, done func(committed bool))

	mu      sync.Mutex // guards pending and running
	pending []*call    // queued writes, oldest first
	running bool       // a leader is committing

	commits atomic.Uint64 // write transactions committed, for benchmarks
}

// call is one caller's write, waiting for its result.
type call struct {
	fn   func(*bbolt.Tx) error // nil: only commit the rider's write
	done chan error            // buffered: the result, or errLead
}

// do runs fn in a committed, fsynced write transaction, possibly shared
// with other callers' functions, and returns fn's or the commit's error.
// A nil fn commits only what rides along, if anything: do(nil) returns
// once the writes nobody waits for, as of its call, are committed.
func (b *batcher) do(fn func(*bbolt.Tx) error) error {
	c := &call{fn: fn, done: make(chan error, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if b.running {
		b.mu.Unlock()
		if err := <-c.done; err != errLead {
			return err
		}
		b.mu.Lock() // lead: running stays true, handed over by the last leader
	} else {
		b.running = true
	}
	n := min(len(b.pending), maxBatch)
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	b.mu.Unlock()

	b.commit(batch)

	b.mu.Lock()
	if len(b.pending) > 0 {
		b.pending[0].done <- errLead
	} else {
		b.running = false
		b.pending = nil
	}
	b.mu.Unlock()
	return <-c.done
}

// commit runs the rider's write and the calls in one transaction and
// reports to each. When that transaction fails, the rider's write and
// each call are retried alone, so only the writes that fail on their own
// see an error.
func (b *batcher) commit(batch []*call) {
	var (
		ride     func(*bbolt.Tx) error
		rideDone func(bool)
	)
	if b.rider != nil {
		ride, rideDone = b.rider()
	}
	if ride == nil && onlyRiders(batch) {
		for _, c := range batch {
			c.done <- nil // nothing to write: no empty commit
		}
		return
	}
	err := b.db.Update(func(tx *bbolt.Tx) error {
		if ride != nil {
			if err := ride(tx); err != nil {
				return err
			}
		}
		for _, c := range batch {
			if c.fn == nil {
				continue
			}
			if err := c.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		b.commits.Add(1)
		if ride != nil {
			rideDone(true)
		}
		for _, c := range batch {
			c.done <- nil
		}
		return
	}
	if ride != nil {
		rideDone(b.update(ride) == nil)
	} else if len(batch) == 1 {
		batch[0].done <- err
		return
	}
	for _, c := range batch {
		if c.fn == nil {
			c.done <- nil
			continue
		}
		c.done <- b.update(c.fn)
	}
}

// onlyRiders reports whether no call in batch has a write of its own.
func onlyRiders(batch []*call) bool {
	for _, c := range batch {
		if c.fn != nil {
			return false
		}
	}
	return true
}

// update runs fn alone in a committed transaction.
func (b *batcher) update(fn func(*bbolt.Tx) error) error {
	err := b.db.Update(fn)
	if err == nil {
		b.commits.Add(1)
	}
	return err
}
