package mux

import (
	"context"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

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
	leased           []bool        // items to store leased, or nil (see Intake.handoff)
	lease            time.Duration // their lease
	ids              []string      // the leased items' entry ids, once written
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
		ids, reports := w, o
		if kind == pairReports {
			ids, reports = o, w
		}
		w.idsErr, w.itemsErr = jointWrite(ctx, jw, ids.recs, reports)
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
	w.idsErr, w.itemsErr = jointWrite(ctx, jw, w.recs, w)
	p.setState(kind, pairFinishing)
}

// jointWrite writes recs and the items of reports with jw, the items
// leased as reports asks (see Intake.handoff) when jw can.
func jointWrite(ctx context.Context, jw store.JointWriter, recs []store.IDRecord, reports *pairedWrite) (idsErr, itemsErr error) {
	if lj, ok := jw.(store.LeasedJointWriter); ok && reports.leased != nil {
		reports.ids, idsErr, itemsErr = lj.PutIDsEnqueueLeased(ctx, recs, reports.items, reports.leased, reports.lease)
		return idsErr, itemsErr
	}
	return jw.PutIDsEnqueue(ctx, recs, reports.items)
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
