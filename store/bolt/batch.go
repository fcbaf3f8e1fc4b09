package bolt

import (
	"errors"
	"sync"

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
type batcher struct {
	db *bbolt.DB

	mu      sync.Mutex // guards pending and running
	pending []*call    // queued writes, oldest first
	running bool       // a leader is committing
}

// call is one caller's write, waiting for its result.
type call struct {
	fn   func(*bbolt.Tx) error
	done chan error // buffered: the result, or errLead
}

// do runs fn in a committed, fsynced write transaction, possibly shared
// with other callers' functions, and returns fn's or the commit's error.
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

// commit runs the calls in one transaction and reports to each. When that
// transaction fails, each call is retried alone, so only the calls that
// fail on their own see an error.
func (b *batcher) commit(batch []*call) {
	err := b.db.Update(func(tx *bbolt.Tx) error {
		for _, c := range batch {
			if err := c.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, c := range batch {
			c.done <- err
		}
		return
	}
	for _, c := range batch {
		c.done <- b.db.Update(c.fn)
	}
}
