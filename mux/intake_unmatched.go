package mux

import (
	"context"
	"fmt"
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
	in   *Intake
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

func newMatcher(in *Intake) *matcher {
	return &matcher{in: in, wake: make(chan struct{}, 1), stored: make(map[string]struct{}), entries: make(map[string]*unmatched)}
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
		mt.in.storeErr.log("cannot read the orphan queue; unmatched receipts wait", err)
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
	maxHeld := mt.in.maxHeld
	room := min(maxHeld-matchable, 4*maxHeld-len(mt.entries))
	if room <= 0 {
		return nil
	}
	es, err := mt.in.store.Fetch(ctx, OrphanQueue, room, matchLease)
	if err != nil {
		return err
	}
	for _, e := range es {
		u := &unmatched{entry: e, leased: now.Add(matchLease - time.Second), next: now, backoff: matchFirstRetry}
		if e.Kind == store.KindReport {
			r := report{frame: e.Frame}
			mt.in.classify(&r)
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
	if err := mt.in.resolve(ctx, batch); err != nil {
		mt.in.storeErr.log("cannot look up the ids of unmatched receipts; retrying", err)
		for _, u := range due {
			u.retrySoon(now)
		}
		return
	}
	var items []store.Item
	keys := map[uint64]struct{}{} // of items, for recent once they are stored
	var finals []*report          // of items, for finalStored
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
		if _, dup := keys[key]; dup || mt.in.recent.has(key) { // stored for the client already (a resend matched earlier)
			continue
		}
		keys[key] = struct{}{}
		items = append(items, store.Item{Client: r.client, Kind: store.KindReport, Frame: r.frame})
		traced = append(traced, r)
		if ce := mt.in.log.Check(zap.DebugLevel, "receipt matched"); ce != nil {
			ce.Write(zap.String("system_id", r.client), zap.String("message_id", u.id), zap.Duration("waited", now.Sub(u.entry.Enqueued)))
		}
		finals = append(finals, r)
	}
	if len(moved) == 0 {
		return
	}
	if len(items) > 0 {
		if err := mt.in.store.Enqueue(ctx, items); err != nil {
			mt.in.metrics.storeErrors.Add(1)
			mt.in.storeErr.log("cannot move matched receipts to their clients; retrying", err)
			for _, u := range moved {
				u.retrySoon(now)
			}
			return
		}
	}
	// Only now: a receipt whose move failed is not stored anywhere but
	// here, and its retry must not take it for a resend stored already.
	for k := range keys {
		mt.in.recent.add(k)
	}
	for _, r := range finals {
		mt.in.finalStored(r)
	}
	// Stored for the client first, then removed here: a crash in between
	// delivers such a receipt twice, never not at all.
	if err := mt.in.store.Ack(ctx, OrphanQueue, ids); err != nil {
		mt.in.storeErr.log("cannot remove matched receipts from the orphan queue", err)
	}
	for _, u := range moved {
		delete(mt.entries, u.entry.ID)
	}
	mt.pending.Store(int64(len(mt.entries)))
	mt.in.traceMoves(traced)
	lv := mt.in.live.Load()
	for _, it := range items {
		mt.in.metrics.matchedLate.Add(1)
		if c := lv.byID[it.Client]; c != nil {
			c.queued()
		}
	}
}

// retrySoon sets the next retry of a receipt whose lookup or move the
// store failed: that says nothing of its id, so its back-off does not
// grow, and it is matched soon after the store is back (a back-off grown
// through an outage would hold it for tens of seconds more).
func (u *unmatched) retrySoon(now time.Time) {
	u.next = now.Add(matchFirstRetry)
}

func (u *unmatched) retryLater(now time.Time) {
	u.next = now.Add(u.backoff)
	u.backoff = min(2*u.backoff, matchMaxRetry)
}

// countOrphans counts, once each, the receipts unmatched past the grace:
// the longer of dlr_grace and the provider's response_timeout, since a
// submit_sm_resp may take that long to bring the id.
func (mt *matcher) countOrphans(now time.Time) {
	grace := max(mt.in.live.Load().dlrGrace, mt.in.upTimeout)
	for _, u := range mt.entries {
		if u.orphaned || now.Sub(u.entry.Enqueued) < grace {
			continue
		}
		u.orphaned = true
		mt.in.metrics.orphaned.Add(1)
		mt.in.orphanLog.Warn("receipt for a message id still unknown; kept in the orphan queue and matched if the id becomes known",
			zap.String("message_id", u.id), zap.Duration("waited", now.Sub(u.entry.Enqueued)))
	}
}

// moveOrphans is Mux.MoveOrphans once to and p are checked.
func (in *Intake) moveOrphans(ctx context.Context, p store.Peeker, by, to string, entryIDs, messageIDs []string) ([]Moved, error) {
	byEntry := make(map[string]bool, len(entryIDs))
	for _, id := range entryIDs {
		byEntry[id] = true
	}
	byMsg := make(map[string]bool, len(messageIDs))
	for _, id := range messageIDs {
		if k := IDKey(id); k != "" {
			byMsg[k] = true
		}
	}
	es, err := p.Peek(ctx, OrphanQueue, moveScan)
	if err != nil {
		return nil, err
	}
	var (
		items  []store.Item
		ids    []string
		moved  []Moved
		traced []*report
	)
	for _, e := range es {
		var msgID string
		if e.Kind == store.KindReport {
			msgID, _ = receiptFields(e.Frame)
		}
		if !byEntry[e.ID] && (msgID == "" || !byMsg[IDKey(msgID)]) {
			continue
		}
		items = append(items, store.Item{Client: to, Kind: e.Kind, Frame: e.Frame})
		ids = append(ids, e.ID)
		moved = append(moved, Moved{EntryID: e.ID, MessageID: msgID})
		if msgID != "" {
			traced = append(traced, &report{frame: e.Frame, id: msgID, client: to, since: e.Enqueued})
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	if err := in.store.Enqueue(ctx, items); err != nil {
		return nil, fmt.Errorf("store in %s: %w", to, err)
	}
	for _, it := range items {
		if it.Kind == store.KindReport {
			in.recent.add(reportKey(to, it.Frame)) // the matcher, should it match one later, does not store it again
		}
	}
	if err := in.store.Ack(ctx, OrphanQueue, ids); err != nil {
		return moved, fmt.Errorf("stored in %s, but not removed from the orphan queue: %w", to, err)
	}
	in.traceMoves(traced)
	in.log.Info("orphaned reports moved by an operator", zap.String("remote", by), zap.String("system_id", to),
		zap.Int("entries", len(ids)), zap.Strings("entry_ids", ids), zap.Strings("message_ids", msgIDs(moved)))
	if c := in.live.Load().byID[to]; c != nil {
		c.queued()
	}
	return moved, nil
}
