package mux

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// A receipt whose message id is not known yet (it raced its
// submit_sm_resp, the id could not be stored, another system shares the
// account) is stored in the orphan queue like any report, and the provider
// is answered at once: unmatched receipts never fill the provider's window
// and never hold up matched ones. The matcher then keeps trying to match
// each one while the orphan queue keeps it (retention), and moves it to
// its client's queue as soon as its id is known:
//   - at once when this process stores the id (idBatch tells it);
//   - else on a retry with back-off per receipt (matchFirstRetry doubling
//     to matchMaxRetry), whose lookups go to the store in one batch.
//
// A receipt still unmatched after the longer of dlr_grace and the
// provider's response_timeout counts as orphaned (metric and log), but is
// still matched later. The matcher leases the entries it works on, so with
// a shared store each is matched by one instance at a time.
type matcher struct {
	m    *Mux
	wake chan struct{} // cap 1: a receipt was stored unmatched, or ids were stored

	mu      sync.Mutex // guards stored, all
	stored  map[string]struct{}
	all     bool         // more ids were stored than stored keeps: try every receipt
	pending atomic.Int64 // len(entries), read without the loop

	// Owned by the loop goroutine.
	entries map[string]*unmatched // by store entry ID
}

// unmatched is one leased entry of the orphan queue.
type unmatched struct {
	entry    store.Entry
	id       string // the receipt's message id; "" for MOs and receipts without one
	keys     []string
	leased   time.Time // until when this process holds it
	next     time.Time // next lookup
	backoff  time.Duration
	orphaned bool // counted past the grace
}

const (
	matchFirstRetry = 250 * time.Millisecond
	matchMaxRetry   = time.Minute
	matchLease      = 10 * time.Minute // the entries this process works on
	matchRound      = 250 * time.Millisecond
	maxStoredKeys   = 1 << 14 // ids remembered between rounds; more: try all
)

func newMatcher(m *Mux) *matcher {
	return &matcher{m: m, wake: make(chan struct{}, 1), stored: make(map[string]struct{}), entries: make(map[string]*unmatched)}
}

func (mt *matcher) poke() {
	select {
	case mt.wake <- struct{}{}:
	default:
	}
}

// idsStored tells the matcher that ids were stored, so that receipts
// waiting for them are matched now, not at their next retry. It costs a
// load when nothing waits.
func (mt *matcher) idsStored(recs []store.IDRecord) {
	if mt.pending.Load() == 0 {
		return
	}
	mt.mu.Lock()
	for _, r := range recs {
		if len(mt.stored) >= maxStoredKeys {
			mt.all = true
			break
		}
		mt.stored[r.ID] = struct{}{}
	}
	mt.mu.Unlock()
	mt.poke()
}

// held returns how many unmatched receipts this process is matching,
// orphaned or not.
func (mt *matcher) held() int { return int(mt.pending.Load()) }

// run matches until ctx ends.
func (mt *matcher) run(ctx context.Context) {
	t := time.NewTicker(matchRound)
	defer t.Stop()
	for {
		mt.round(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-mt.wake:
		}
	}
}

// round leases new entries, then looks up those due and moves the
// matched ones.
func (mt *matcher) round(ctx context.Context, now time.Time) {
	if err := mt.fetch(ctx, now); err != nil {
		mt.m.storeErr.log("cannot read the orphan queue; unmatched receipts wait", err)
	}
	var stored map[string]struct{} // the ids stored since the last round, taken whole
	mt.mu.Lock()
	all := mt.all
	if len(mt.stored) > 0 {
		stored, mt.stored = mt.stored, make(map[string]struct{})
	}
	mt.all = false
	mt.mu.Unlock()

	var due []*unmatched
	for _, u := range mt.entries {
		if u.id == "" {
			continue
		}
		if all || !now.Before(u.next) || anyIn(u.keys, stored) {
			due = append(due, u)
		}
	}
	if len(due) > 0 {
		mt.match(ctx, now, due)
	}
	mt.countOrphans(now)
}

func anyIn(keys []string, set map[string]struct{}) bool {
	if len(set) == 0 {
		return false
	}
	for _, k := range keys {
		if _, ok := set[k]; ok {
			return true
		}
	}
	return false
}

// fetch forgets entries whose lease ran out (another instance may have
// them now; if not, they are leased again below) and leases new ones, up
// to max_held in all.
func (mt *matcher) fetch(ctx context.Context, now time.Time) error {
	for k, u := range mt.entries {
		if !now.Before(u.leased) {
			delete(mt.entries, k)
		}
	}
	defer func() { mt.pending.Store(int64(len(mt.entries))) }()
	// Entries without an id to match by (MOs no client claims) stay
	// leased here too, so they are not fetched again each round, but they
	// do not take the room of receipts: max_held counts those; the whole
	// is bounded at four times that.
	matchable := 0
	for _, u := range mt.entries {
		if u.id != "" {
			matchable++
		}
	}
	maxHeld := mt.m.cfg.Server.MaxHeld
	room := min(maxHeld-matchable, 4*maxHeld-len(mt.entries))
	if room <= 0 {
		return nil
	}
	es, err := mt.m.store.Fetch(ctx, OrphanQueue, room, matchLease)
	if err != nil {
		return err
	}
	for _, e := range es {
		u := &unmatched{entry: e, leased: now.Add(matchLease - time.Second), next: now, backoff: matchFirstRetry}
		if e.Kind == store.KindReport {
			r := report{frame: e.Frame}
			mt.m.classify(&r)
			u.id = r.id
			u.keys = idCandidates(r.id, nil)
		}
		if u.id == "" {
			u.orphaned = true // nothing to match it by: counted when it was stored
		}
		mt.entries[e.ID] = u
	}
	return nil
}

// match looks the due receipts up, moves those found to their clients'
// queues and acknowledges them in the orphan queue, and sets the next
// retry of the others.
func (mt *matcher) match(ctx context.Context, now time.Time, due []*unmatched) {
	batch := make([]report, len(due))
	for i, u := range due {
		batch[i] = report{kind: store.KindReport, id: u.id, frame: u.entry.Frame, since: u.entry.Enqueued}
	}
	if err := mt.m.resolve(ctx, batch); err != nil {
		mt.m.storeErr.log("cannot look up the ids of unmatched receipts; retrying", err)
		for _, u := range due {
			u.retryLater(now)
		}
		return
	}
	var items []store.Item
	var finals []*report // of items, for finalStored
	var ids []string
	var moved []*unmatched
	var traced []*report
	for i, u := range due {
		r := &batch[i]
		if r.client == "" {
			u.retryLater(now)
			continue
		}
		key := reportKey(r.client, r.frame)
		ids = append(ids, u.entry.ID)
		moved = append(moved, u)
		if mt.m.recent.has(key) { // stored for the client already (a resend matched earlier)
			continue
		}
		mt.m.recent.add(key)
		items = append(items, store.Item{Client: r.client, Kind: store.KindReport, Frame: r.frame})
		traced = append(traced, r)
		if ce := mt.m.log.Check(zap.DebugLevel, "receipt matched"); ce != nil {
			ce.Write(zap.String("system_id", r.client), zap.String("message_id", u.id), zap.Duration("waited", now.Sub(u.entry.Enqueued)))
		}
		finals = append(finals, r)
	}
	if len(moved) == 0 {
		return
	}
	if len(items) > 0 {
		if err := mt.m.store.Enqueue(ctx, items); err != nil {
			mt.m.metrics.storeErrors.Add(1)
			mt.m.storeErr.log("cannot move matched receipts to their clients; retrying", err)
			for _, u := range moved {
				u.retryLater(now)
			}
			return
		}
	}
	for _, r := range finals {
		mt.m.finalStored(r)
	}
	// Stored for the client first, then removed here: a crash in between
	// delivers such a receipt twice, never not at all.
	if err := mt.m.store.Ack(ctx, OrphanQueue, ids); err != nil {
		mt.m.storeErr.log("cannot remove matched receipts from the orphan queue", err)
	}
	for _, u := range moved {
		delete(mt.entries, u.entry.ID)
	}
	mt.pending.Store(int64(len(mt.entries)))
	mt.m.traceMoves(traced)
	lv := mt.m.live.Load()
	for _, it := range items {
		mt.m.metrics.matchedLate.Add(1)
		if c := lv.byID[it.Client]; c != nil {
			c.notify()
		}
	}
}

func (u *unmatched) retryLater(now time.Time) {
	u.next = now.Add(u.backoff)
	u.backoff = min(2*u.backoff, matchMaxRetry)
}

// countOrphans counts, once each, the receipts unmatched past the grace:
// the longer of dlr_grace and the provider's response_timeout, since a
// submit_sm_resp may take that long to bring the id.
func (mt *matcher) countOrphans(now time.Time) {
	grace := max(mt.m.live.Load().dlrGrace, mt.m.cfg.Upstream.ResponseTimeout)
	for _, u := range mt.entries {
		if u.orphaned || now.Sub(u.entry.Enqueued) < grace {
			continue
		}
		u.orphaned = true
		mt.m.metrics.orphaned.Add(1)
		mt.m.orphanLog.Warn("receipt for a message id still unknown; kept in the orphan queue and matched if the id becomes known",
			zap.String("message_id", u.id), zap.Duration("waited", now.Sub(u.entry.Enqueued)))
	}
}
