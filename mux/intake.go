package mux

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// Intake is the room of what the store keeps for the clients: the message
// ids of their submits, and the receipts and MOs from the provider.
//
//   - Ids (idBatch): a submit_sm_resp that brings an id the client wants
//     a receipt for is held until the id is stored; ids the store fails
//     to take are journaled (intake_journal.go) and written back later.
//   - Receipts and MOs (Deliver, reportBatch): classified, their client
//     found by message id (resolve, intake_ids.go) or destination number,
//     resends of stored ones answered without storing them again
//     (intake_dedup.go), stored, and only then answered to the provider.
//     A receipt whose id is not known yet goes to the orphan queue, where
//     the matcher (intake_unmatched.go) moves it once the id is known.
//   - Final receipts shorten their id's expiry (expireBatch).
//
// Ids and reports are written in batches (batch.go), paired into one
// store write where the store can (intake_pairing.go). Dispatcher reads
// the queues the Intake fills; nothing else writes them.
type Intake struct {
	shared
	orphanLog *zap.Logger   // sampled: orphans can come in floods
	dlrTTL    time.Duration // [store] dlr_ttl: how long a message id is kept
	finalTTL  time.Duration // [store] final_ttl; 0: ids keep dlr_ttl
	maxHeld   int           // [server] max_held: orphaned receipts the matcher works on
	upTimeout time.Duration // [upstream] response_timeout: part of an orphan's grace
	lease     time.Duration // of reports handed to their clients' dispatchers: deliveryLease
	canLease  bool          // the store leases what it enqueues (see handoffPlan)
	window    int           // [server] window: deliver_sm in flight per session

	recent     recentReports
	idFallback idFallback    // ids the store failed to write, until written back
	journal    *idJournal    // the same ids on disk
	wbNow      chan struct{} // cap 1: the store took a write; write the kept ids back now
	wbKept     chan struct{} // cap 1: ids were kept; write them back after the back-off
	idw        *batcher[idJob]
	rw         *batcher[report]
	pair       pairing          // the store writes of idw's and rw's batches, paired
	xw         *batcher[string] // keys of message ids whose final receipt was stored; see expireBatch
	matcher    *matcher         // receipts stored unmatched, moved to their clients once their ids are known
}

// newIntake builds the Intake of cfg over sh.store and replays the id
// journal a previous run left; on error the journal is closed.
func newIntake(sh shared, cfg *Config, orphanLog *zap.Logger) (*Intake, error) {
	in := &Intake{shared: sh, orphanLog: orphanLog,
		dlrTTL:    cfg.Store.DLRTTL.Std(),
		maxHeld:   cfg.Server.MaxHeld,
		upTimeout: cfg.Upstream.ResponseTimeout,
		lease:     deliveryLease(cfg.Server),
		canLease:  canLease(sh.store),
		window:    cfg.Server.Window,
		wbNow:     make(chan struct{}, 1), wbKept: make(chan struct{}, 1)}
	in.matcher = newMatcher(in)
	in.journal = newJournal(journalPath(cfg.Store, sh.store), cfg.Store.JournalMaxMB)
	if err := in.replayJournal(); err != nil {
		in.journal.close() // its lock
		return nil, err
	}
	in.idw = newBatcher(4096, 512, in.idBatch)
	in.rw = newBatcher(4096, 512, in.reportBatch)
	in.xw = newBatcher(4096, 512, in.expireBatch).lingering(offPathLinger)
	if _, ok := sh.store.(store.IDExpirer); ok {
		if ft := cfg.Store.FinalTTL.Std(); ft < in.dlrTTL {
			in.finalTTL = ft
		}
	}
	return in, nil
}

// run starts the batchers, the matcher and the write-back loop in wg,
// until ctx ends; the batchers then drain: pending ids stored, reports
// answered.
func (in *Intake) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { in.idw.run(ctx) })
	wg.Go(func() { in.rw.run(ctx) })
	wg.Go(func() { in.xw.run(ctx) })
	wg.Go(func() { in.matcher.run(ctx) })
	wg.Go(func() { in.writeBackLoop(ctx) })
}

// finish makes a last attempt, bounded by ctx, to write the kept ids to
// the store, and closes the journal: once run's goroutines have ended,
// or when they never ran.
func (in *Intake) finish(ctx context.Context) {
	in.finalWriteBack(ctx)
	in.journal.close()
}

// awaitID holds a submit_sm_resp until its message id is stored (idBatch).
func (in *Intake) awaitID(j idJob) { in.idw.add(j) }

// held returns how many unmatched receipts this process is matching.
func (in *Intake) held() int { return in.matcher.held() }

// pendingIDs returns how many message ids wait in memory and the journal
// for the store.
func (in *Intake) pendingIDs() int { return in.idFallback.size() }
