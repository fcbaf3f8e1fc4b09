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
	id     string // the receipt's message id, for receipts
	client string // "" until routed
	held   time.Time
	key    uint64 // recentReports key, once routed
}

// Deliver implements upstream.Handler: a report or MO from any upstream
// session. It is answered only after it is stored (reportBatch).
func (m *Mux) Deliver(s *upstream.Session, gen uint64, frame []byte) {
	r := report{s: s, gen: gen, frame: append([]byte(nil), frame...)}
	if !m.rw.add(r) {
		m.replyDeliver(r, pdu.StatusTempAppErr) // shutting down: the provider resends
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
func (m *Mux) classify(r *report) {
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
	lv := m.live.Load()
	if c, ok := lv.moNumbers[NormalizeNumber(string(dest))]; ok {
		r.client = c
	} else {
		r.client = lv.moDefault
	}
	if r.client == "" {
		m.metrics.orphaned.Add(1)
		m.orphanLog.Warn("MO for a number no client claims, and no mo_default; kept in the orphan queue", zap.String("destination_addr", string(dest)))
		r.client = OrphanQueue
	}
}

// resolve finds the client of a receipt by its message id.
func (m *Mux) resolve(ctx context.Context, r *report) error {
	var buf [3]string
	for _, k := range idCandidates(r.id, buf[:0]) {
		if c, ok := m.idFallback.get(k); ok {
			r.client = c
			return nil
		}
		c, ok, err := m.store.LookupID(ctx, k)
		if err != nil {
			return err
		}
		if ok {
			r.client = c
			return nil
		}
	}
	return nil
}

// reportBatch stores a batch of reports with one store write, then
// answers the provider. Reports whose message id is unknown are held for
// dlr_grace: they may have raced their submit_sm_resp.
func (m *Mux) reportBatch(batch []report) {
	ctx := context.Background()
	var items []store.Item
	var ready []report
	for i := range batch {
		r := batch[i]
		if r.kind == 0 {
			m.classify(&r)
		}
		if r.kind == store.KindReport && r.client == "" && r.id != "" {
			if err := m.resolve(ctx, &r); err != nil {
				m.log.Error("store lookup failed; report refused for the provider to resend", zap.Error(err))
				m.replyDeliver(r, pdu.StatusTempAppErr)
				continue
			}
		}
		if r.kind == store.KindReport && r.client == "" && !m.hold(&r) {
			continue
		}
		// Receipts carry a unique id and state; two MOs with the same
		// text from the same sender are two messages, so only receipts
		// are checked for resends.
		if r.kind == store.KindReport {
			r.key = reportKey(r.client, r.frame)
		}
		if r.key != 0 && (m.recent.has(r.key) || inBatch(ready, r.key)) {
			// The provider's resend of a report already stored: answer it.
			m.metrics.resent.Add(1)
			m.replyDeliver(r, pdu.StatusOK)
			continue
		}
		items = append(items, store.Item{Client: r.client, Kind: r.kind, Frame: r.frame})
		ready = append(ready, r)
	}
	if len(items) == 0 {
		return
	}
	st := pdu.StatusOK
	if err := m.store.Enqueue(ctx, items); err != nil {
		m.metrics.storeErrors.Add(1)
		m.log.Error("cannot store reports; answering ESME_RX_T_APPN so the provider keeps them", zap.Error(err), zap.Int("reports", len(items)))
		st = pdu.StatusTempAppErr
	}
	for _, r := range ready {
		if st == pdu.StatusOK && r.key != 0 {
			m.recent.add(r.key) // before the answer: a resend racing it is caught
		}
		m.replyDeliver(r, st)
		if st == pdu.StatusOK {
			m.metrics.reportStored(r)
			if c := m.live.Load().byID[r.client]; c != nil {
				c.notify()
			}
		}
	}
}

// hold keeps a report with an unknown id for dlr_grace, and returns true
// when the grace has passed: the report then goes to the orphan queue
// ("" client) and is acknowledged, never dropped.
func (m *Mux) hold(r *report) bool {
	now := time.Now()
	if r.held.IsZero() {
		r.held = now
	}
	if now.Sub(r.held) >= m.live.Load().dlrGrace {
		m.metrics.orphaned.Add(1)
		m.orphanLog.Warn("report for an unknown message id; kept in the orphan queue", zap.String("message_id", r.id))
		r.client = OrphanQueue
		return true
	}
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	if len(m.held) >= m.cfg.Server.MaxHeld {
		// Bounded memory: the provider keeps it and sends it again.
		m.metrics.heldFull.Add(1)
		m.replyDeliver(*r, pdu.StatusTempAppErr)
		return false
	}
	m.held = append(m.held, *r)
	return false
}

func inBatch(rs []report, key uint64) bool {
	for i := range rs {
		if rs[i].key == key {
			return true
		}
	}
	return false
}

// takeHeld removes and returns the held reports.
func (m *Mux) takeHeld() []report {
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	held := m.held
	m.held = nil
	return held
}

// retryHeld feeds held reports back through the report batcher.
func (m *Mux) retryHeld() {
	for _, r := range m.takeHeld() {
		if !m.rw.add(r) {
			m.replyDeliver(r, pdu.StatusTempAppErr)
		}
	}
}

func (m *Mux) replyDeliver(r report, st pdu.Status) {
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
func (m *Mux) idBatch(batch []idJob) {
	exp := time.Now().Add(m.cfg.Store.DLRTTL.Or(72 * time.Hour))
	recs := make([]store.IDRecord, len(batch))
	for i, j := range batch {
		recs[i] = store.IDRecord{ID: j.id, Client: j.b.c.id, Expires: exp}
	}
	if err := m.store.PutIDs(context.Background(), recs); err != nil {
		// The provider has the message: failing the client now would make
		// it send a duplicate. Keep the ids in memory instead.
		m.metrics.storeErrors.Add(1)
		m.log.Error("cannot store message ids; keeping them in memory until restart", zap.Error(err), zap.Int("ids", len(recs)))
		for _, r := range recs {
			m.idFallback.put(r.ID, r.Client, r.Expires)
		}
	}
	for _, j := range batch {
		m.metrics.answered(pdu.StatusOK)
		j.b.c.stats.answered(pdu.StatusOK)
		_ = j.b.s.Send(j.resp)
	}
	m.heldMu.Lock()
	waiting := len(m.held) > 0
	m.heldMu.Unlock()
	if waiting {
		select {
		case m.heldWake <- struct{}{}:
		default:
		}
	}
}
