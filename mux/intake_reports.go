package mux

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/upstream"
)

// OrphanQueue is the store queue of reports whose message id stayed
// unknown past dlr_grace, and of MOs no client claims. The config refuses
// it as a system_id, so no client binds to it; operators see its depth in
// /status and /metrics, and entries leave it by retention.
const OrphanQueue = "~orphaned"

// report is one deliver_sm from the provider on its way into the store.
type report struct {
	s      *upstream.Session
	gen    uint64
	frame  []byte // a copy, owned by the report
	kind   store.Kind
	id     string    // the receipt's message id, for receipts
	client string    // "" until routed
	key    uint64    // recentReports key, once routed
	idKey  string    // the key its id was found under, once resolved by id
	since  time.Time // when it was stored in the orphan queue, for one leaving it
}

// Deliver implements upstream.Handler: a report or MO from any upstream
// session. It is answered only after it is stored (reportBatch).
func (in *Intake) Deliver(s *upstream.Session, gen uint64, frame []byte) {
	r := report{s: s, gen: gen, frame: append([]byte(nil), frame...)}
	if !in.rw.add(r) {
		in.replyDeliver(r, pdu.StatusTempAppErr) // shutting down: the provider resends
	}
}

// isReceipt reports whether esm_class marks a deliver_sm as a report: a
// delivery receipt, an SME acknowledgement or an intermediate notification
// (SMPP 3.4 §5.2.12).
func isReceipt(esm byte) bool {
	switch esm & pdu.ESMClassTypeMask {
	case 0x04, 0x08, 0x10, 0x20:
		return true
	}
	return false
}

// classify finds a report's kind and message id, or an MO's client.
func (in *Intake) classify(r *report) {
	text, _, esm, ok := pdu.PeekText(r.frame)
	if ok && isReceipt(esm) {
		r.kind = store.KindReport
		if id, ok := pdu.PeekReceiptedMessageID(r.frame); ok && len(id) > 0 {
			r.id = string(id)
		} else if id, ok := pdu.ReceiptID(text); ok {
			r.id = string(id)
		}
		return
	}
	r.kind = store.KindMO
	dest, _ := pdu.PeekDestAddr(r.frame)
	lv := in.live.Load()
	if c, ok := lv.moNumbers[NormalizeNumber(string(dest))]; ok {
		r.client = c
	} else {
		r.client = lv.moDefault
	}
	if r.client == "" {
		in.metrics.orphaned.Add(1)
		in.orphanLog.Warn("MO for a number no client claims, and no mo_default; kept in the orphan queue", zap.String("destination_addr", string(dest)))
		r.client = OrphanQueue
	}
}

// resolve finds the clients of a batch's receipts that have none yet, by
// their message ids: for each of an id's candidate keys in turn, the ids
// kept in memory because the store failed to take them, then the store.
// All the batch's lookups of one round go to the store in one call when
// it has LookupIDs (one read transaction for store.bolt); a second round
// is only for ids not found under their first key. On an error, the
// reports still unresolved keep no client and resolve returns the error.
func (in *Intake) resolve(ctx context.Context, batch []report) error {
	type pending struct {
		r    *report
		keys [3]string
		n    int
	}
	var todo []pending
	for i := range batch {
		r := &batch[i]
		if r.kind != store.KindReport || r.client != "" || r.id == "" {
			continue
		}
		p := pending{r: r}
		p.n = len(idCandidates(r.id, p.keys[:0]))
		todo = append(todo, p)
	}
	var keys []string
	for round := 0; len(todo) > 0; round++ {
		keys = keys[:0]
		ask := todo[:0]
		for _, p := range todo {
			if round >= p.n {
				continue // unknown under every key
			}
			k := p.keys[round]
			if c, ok := in.idFallback.get(k); ok {
				p.r.client, p.r.idKey = c, k
				continue
			}
			keys = append(keys, k)
			ask = append(ask, p)
		}
		if len(ask) == 0 {
			return nil
		}
		clients, found, err := lookupIDs(ctx, in.store, keys)
		if err != nil {
			return err
		}
		todo = ask[:0]
		for i, p := range ask {
			if found[i] {
				p.r.client, p.r.idKey = clients[i], keys[i]
			} else {
				todo = append(todo, p)
			}
		}
	}
	return nil
}

// lookupIDs looks keys up in st: in one call when it implements
// store.IDBatchLookup, else one LookupID each.
func lookupIDs(ctx context.Context, st store.Store, keys []string) (clients []string, found []bool, err error) {
	if bl, ok := st.(store.IDBatchLookup); ok {
		return bl.LookupIDs(ctx, keys)
	}
	clients, found = make([]string, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		if clients[i], found[i], err = st.LookupID(ctx, k); err != nil {
			return nil, nil, err
		}
	}
	return clients, found, nil
}

// reportBatch stores a batch of reports with one store write, then
// answers the provider. A receipt whose message id is unknown is stored
// in the orphan queue, where the matcher moves it to its client once the
// id is known: it may have raced its submit_sm_resp.
func (in *Intake) reportBatch(batch []report) {
	ctx := context.Background()
	in.pair.begin(pairReports)
	defer func() { in.pair.end(pairReports, len(in.rw.ch) > 0) }()
	for i := range batch {
		if batch[i].kind == 0 {
			in.classify(&batch[i])
		}
	}
	lookupErr := in.resolve(ctx, batch)
	if lookupErr != nil {
		in.storeErr.log("store lookup failed; reports refused for the provider to resend", lookupErr)
	}
	var items []store.Item
	var ready []report
	unmatched := 0
	for i := range batch {
		r := batch[i]
		if lookupErr != nil && r.kind == store.KindReport && r.client == "" && r.id != "" {
			in.replyDeliver(r, pdu.StatusTempAppErr)
			continue
		}
		if r.kind == store.KindReport && r.client == "" {
			r.client = OrphanQueue
			unmatched++
			if r.id == "" {
				in.metrics.orphaned.Add(1)
				in.orphanLog.Warn("receipt without a message id; kept in the orphan queue")
			}
		}
		// Receipts carry a unique id and state; two MOs with the same
		// text from the same sender are two messages, so only receipts
		// are checked for resends.
		if r.kind == store.KindReport {
			r.key = reportKey(r.client, r.frame)
		}
		if r.key != 0 && (in.recent.has(r.key) || inBatch(ready, r.key)) {
			// The provider's resend of a report already stored (for its
			// client, or unmatched in the orphan queue): answer it.
			in.metrics.resent.Add(1)
			in.replyDeliver(r, pdu.StatusOK)
			continue
		}
		items = append(items, store.Item{Client: r.client, Kind: r.kind, Frame: r.frame})
		ready = append(ready, r)
	}
	if len(items) == 0 {
		return
	}
	st := pdu.StatusOK
	leased := in.handoffPlan(items)
	handedAt := time.Now()
	ids, err := in.enqueue(ctx, items, leased)
	if err != nil {
		in.metrics.storeErrors.Add(1)
		in.storeErr.log("cannot store reports; answering ESME_RX_T_APPN so the provider keeps them", err, zap.Int("reports", len(items)))
		st = pdu.StatusTempAppErr
	}
	now := time.Now()
	for i, r := range ready {
		if st == pdu.StatusOK && r.kind == store.KindReport && r.id != "" && in.tracing() {
			k := r.idKey
			if k == "" {
				k = IDKey(r.id)
			}
			_, stat := receiptFields(r.frame)
			in.trace(store.Event{ID: k, Kind: store.EventReceipt, At: now, Queue: r.client, Stat: stat, Expires: in.traceExpiry(now)})
		}
		if st == pdu.StatusOK && r.key != 0 {
			in.recent.add(r.key) // before the answer: a resend racing it is caught
		}
		in.replyDeliver(r, st)
		if ce := in.log.Check(zap.DebugLevel, "report stored"); ce != nil {
			ce.Write(zap.String("system_id", r.client), zap.String("message_id", r.id), zap.Bool("receipt", r.kind == store.KindReport),
				zap.String("upstream", r.s.Host()), zap.Int("upstream_session", r.s.Index()), zap.Stringer("command_status", st))
		}
		if st == pdu.StatusOK {
			in.metrics.reportStored(r)
			if c := in.live.Load().byID[r.client]; c != nil {
				if i >= len(ids) || ids[i] == "" {
					c.queued() // for Fetch
				} else {
					c.notify()
				}
			}
			in.finalStored(&r)
		}
	}
	if st == pdu.StatusOK && unmatched > 0 {
		in.matcher.poke()
	}
	if st == pdu.StatusOK && leased != nil {
		in.handOver(items, ids, handedAt) // last: a delivery patches the frames
	}
}

func inBatch(rs []report, key uint64) bool {
	for i := range rs {
		if rs[i].key == key {
			return true
		}
	}
	return false
}

func (in *Intake) replyDeliver(r report, st pdu.Status) {
	var buf [pdu.HeaderLen + 1]byte
	f := pdu.Append(buf[:0], pdu.CmdDeliverSMResp, st, pdu.Seq(r.frame), &pdu.SMResp{})
	_ = r.s.Reply(r.gen, f) // ErrStale: the provider resends on another bind
}

// idJob is a submit_sm_resp held back until its message id is stored.
type idJob struct {
	b    *binding
	id   string
	resp []byte
}

// idBatch stores message ids with one store write, then lets the clients
// see their submit_sm_resp.
func (in *Intake) idBatch(batch []idJob) {
	in.pair.begin(pairIDs)
	defer func() { in.pair.end(pairIDs, len(in.idw.ch) > 0) }()
	exp := time.Now().Add(in.dlrTTL)
	recs := make([]store.IDRecord, len(batch))
	for i, j := range batch {
		recs[i] = store.IDRecord{ID: j.id, Client: j.b.c.id, Expires: exp}
	}
	if err := in.putIDs(context.Background(), recs); err != nil {
		// The provider has the message: failing the client now would make
		// it send a duplicate. Journal the ids instead, for the store later.
		in.metrics.storeErrors.Add(1)
		in.keepIDs(recs, err)
	} else {
		in.storeTookIDs()
		if in.tracing() {
			now := time.Now()
			for _, r := range recs {
				in.trace(store.Event{ID: r.ID, Kind: store.EventSubmit, At: now, Queue: r.Client, Expires: exp})
			}
		}
	}
	for _, j := range batch {
		in.metrics.answered(pdu.StatusOK)
		j.b.c.stats.answered(pdu.StatusOK)
		_ = j.b.s.Send(j.resp)
	}
	in.matcher.idsStored(recs)
}

// putIDs stores message ids: with a batch of reports ready at the same
// time when the store is a store.JointWriter (see pairing).
func (in *Intake) putIDs(ctx context.Context, recs []store.IDRecord) error {
	jw, ok := in.store.(store.JointWriter)
	if !ok {
		return in.store.PutIDs(ctx, recs)
	}
	w := &pairedWrite{recs: recs}
	in.pair.write(ctx, jw, pairIDs, w)
	return w.idsErr
}

// enqueue stores reports: with a batch of message ids ready at the same
// time when the store is a store.JointWriter (see pairing). The items
// with leased[i] are stored leased (leased may be nil: none; see
// handoffPlan); ids are their entry ids.
func (in *Intake) enqueue(ctx context.Context, items []store.Item, leased []bool) (ids []string, err error) {
	jw, ok := in.store.(store.JointWriter)
	if !ok {
		if le, ok := in.store.(store.LeasedEnqueuer); ok && leased != nil {
			return le.EnqueueLeased(ctx, items, leased, in.lease)
		}
		return nil, in.store.Enqueue(ctx, items)
	}
	w := &pairedWrite{items: items, leased: leased, lease: in.lease}
	in.pair.write(ctx, jw, pairReports, w)
	return w.ids, w.itemsErr
}

// finalReceipt reports whether a receipt's state is final: after it no
// other receipt is expected for the message, only the provider's resends
// of it. The state is TLV message_state when present, else the text's
// stat. DELIVRD, UNDELIV, EXPIRED, REJECTD and DELETED are final by SMPP
// 3.4 §5.2.28. UNKNOWN is taken as final too: it is the SMSC saying it
// has lost track of the message, and SMPP 5.0 lists it among the final
// states; a later report within final_ttl still finds its client.
// ENROUTE, ACCEPTD and BUFFERD are not (the provider sends a final state
// after them), nor is a receipt without a state.
func finalReceipt(frame []byte) bool {
	st, ok := pdu.PeekMessageState(frame)
	if !ok {
		text, _, _, ok := pdu.PeekText(frame)
		if !ok {
			return false
		}
		stat, ok := pdu.ReceiptStat(text)
		if !ok {
			return false
		}
		if st, ok = pdu.StatState(stat); !ok {
			return false
		}
	}
	switch st {
	case pdu.StateDelivered, pdu.StateUndeliverable, pdu.StateExpired, pdu.StateRejected, pdu.StateDeleted, pdu.StateUnknown:
		return true
	}
	return false
}

// finalStored queues r's message id for expireBatch when r, now stored
// for its client, has a final state. When the queue is full the id keeps
// dlr_ttl.
func (in *Intake) finalStored(r *report) {
	if r.idKey != "" && in.finalTTL > 0 && finalReceipt(r.frame) {
		in.xw.tryAdd(r.idKey)
	}
}

// expireBatch brings the expiry of message ids whose final receipt was
// stored forward to final_ttl from now, in one store call: the store's
// id map then holds ids for minutes where no further receipt comes,
// rather than for the whole dlr_ttl. A failure only leaves the ids their
// dlr_ttl.
func (in *Intake) expireBatch(ids []string) {
	ex, ok := in.store.(store.IDExpirer)
	if !ok {
		return
	}
	if err := ex.ExpireIDs(context.Background(), ids, time.Now().Add(in.finalTTL)); err != nil {
		in.storeErr.log("cannot shorten the expiry of message ids with a final receipt; they keep dlr_ttl", err, zap.Int("ids", len(ids)))
		return
	}
	in.metrics.idsShortened.Add(uint64(len(ids)))
}
