package mux

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// A message's trace (GET /messages/{id}) is kept by the store when it
// implements store.History: the submit (idBatch), each receipt stored
// (reportBatch), moved out of the orphan queue (the matcher, MoveOrphans)
// and acknowledged by its client (ackBatch). Events go to the store in
// batches from their own goroutine (tw), so the submit and receipt paths
// only queue them; when that queue is full, events are dropped: a trace
// is an aid, never a reason to slow a PDU down.
//
// An acknowledgement carries a store entry id, not a message id, and
// Enqueue returns no entry ids: the dispatcher notes the message id and
// stat of each receipt it sends (deliveredRefs) and ackBatch turns an
// acknowledged entry into a delivered event. Limits: a receipt the
// provider reports under another base than its submit_sm_resp (hex for
// decimal) has its delivery noted under the receipt's id and is merged
// back by Message; receipts dropped by a deliver rule, retention or a
// queue cap stay "queued" in the trace.

// traceQueue bounds the events waiting for the store.
const traceQueue = 8192

// maxDeliveredRefs bounds the notes of receipts sent and not yet
// answered. A note whose entry is never answered (the client refused it
// until retention dropped it, or left the config) stays until the notes
// reach the bound; then those older than staleRef go, and if that is not
// enough, deliveries go unnoted.
const (
	maxDeliveredRefs = 1 << 16
	staleRef         = time.Hour
)

// deliveredRef is what the trace needs of a receipt sent to a client.
type deliveredRef struct {
	id, stat string
	at       time.Time // when it was sent
}

type refKey struct{ client, entry string }

// deliveredRefs are the receipts sent to clients and not yet answered.
type deliveredRefs struct {
	mu sync.Mutex
	m  map[refKey]deliveredRef
}

func (d *deliveredRefs) put(client, entry string, r deliveredRef) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[refKey]deliveredRef)
	}
	if _, ok := d.m[refKey{client, entry}]; !ok && len(d.m) >= maxDeliveredRefs {
		for k, v := range d.m {
			if r.at.Sub(v.at) > staleRef {
				delete(d.m, k)
			}
		}
		if len(d.m) >= maxDeliveredRefs {
			return
		}
	}
	d.m[refKey{client, entry}] = r
}

func (d *deliveredRefs) take(client, entry string) (deliveredRef, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.m[refKey{client, entry}]
	if ok {
		delete(d.m, refKey{client, entry})
	}
	return r, ok
}

// tracer records the steps of messages in the store, when it keeps a
// store.History and [store] trace is on; every room records through it.
type tracer struct {
	tw       *batcher[store.Event] // nil: no traces are kept
	refs     deliveredRefs         // receipts sent to clients, for their traces
	hist     store.History
	ttl      time.Duration // dlr_ttl: the events go with the ids
	storeErr *repeatLog
}

// newTracer returns the tracer of st under sc; its batcher is run by the
// caller when tracing.
func newTracer(st store.Store, sc StoreConfig, storeErr *repeatLog) *tracer {
	t := &tracer{ttl: sc.DLRTTL.Std(), storeErr: storeErr}
	if h, ok := st.(store.History); ok && sc.Tracing() {
		t.hist = h
		t.tw = newBatcher(traceQueue, 512, t.traceBatch).lingering(offPathLinger)
	}
	return t
}

// run writes the events to the store from wg until ctx ends, when
// tracing.
func (tr *tracer) run(ctx context.Context, wg *sync.WaitGroup) {
	if tr.tw != nil {
		wg.Go(func() { tr.tw.run(ctx) })
	}
}

// tracing reports whether the store keeps traces.
func (tr *tracer) tracing() bool { return tr.tw != nil }

// trace queues an event for the store, or drops it when the queue is
// full or the mux is stopping.
func (tr *tracer) trace(e store.Event) {
	if tr.tw == nil {
		return
	}
	select {
	case <-tr.tw.stop:
		return
	default:
	}
	select {
	case tr.tw.ch <- e:
	default:
	}
}

// traceBatch writes a batch of events to the store.
func (tr *tracer) traceBatch(batch []store.Event) {
	if err := tr.hist.AddEvents(context.Background(), batch); err != nil && !errors.Is(err, store.ErrClosed) {
		tr.storeErr.log("cannot record message traces", err)
	}
}

// traceExpiry is when the events recorded now may go: with the ids.
func (tr *tracer) traceExpiry(now time.Time) time.Time {
	return now.Add(tr.ttl)
}

// receiptFields returns a receipt's message id and stat, from its
// receipted_message_id TLV or its text.
func receiptFields(frame []byte) (id, stat string) {
	text, _, _, _ := pdu.PeekText(frame)
	r, err := pdu.ParseReceipt(text)
	if err == nil {
		id, stat = r.ID, r.Stat
	}
	if tlv, ok := pdu.PeekReceiptedMessageID(frame); ok && len(tlv) > 0 {
		id = string(tlv)
	}
	return id, stat
}

// noteDelivery notes a receipt sent to a client, for its delivered event.
func (tr *tracer) noteDelivery(client string, e store.Entry) {
	if !tr.tracing() || e.Kind != store.KindReport {
		return
	}
	id, stat := receiptFields(e.Frame)
	if id == "" {
		return
	}
	tr.refs.put(client, e.ID, deliveredRef{id: IDKey(id), stat: stat, at: time.Now()})
}

// traceAcks records the delivered events of acknowledged entries, and
// forgets the notes of released ones.
func (tr *tracer) traceAcks(client string, entries []string, acked bool) {
	if !tr.tracing() {
		return
	}
	now := time.Now()
	for _, id := range entries {
		if r, ok := tr.refs.take(client, id); ok && acked {
			tr.trace(store.Event{ID: r.id, Kind: store.EventDelivered, At: now, Queue: client, Stat: r.stat, Expires: tr.traceExpiry(now)})
		}
	}
}

// MessageTrace is what the store knows of one message id, for
// GET /messages/{id}.
type MessageTrace struct {
	MessageID string         `json:"message_id"` // as stored (normalised)
	Client    string         `json:"client"`     // the owner
	Submitted *time.Time     `json:"submitted,omitempty"`
	Traced    bool           `json:"traced"` // false: the store keeps no history; only the owner is known
	Receipts  []ReceiptTrace `json:"receipts"`
}

// ReceiptTrace is one receipt of a message. State is "delivered" (the
// client acknowledged it), "queued" (stored for the client, not
// acknowledged yet) or "orphaned" (in the orphan queue).
type ReceiptTrace struct {
	Stat      string     `json:"stat"`
	Queue     string     `json:"queue"` // the client, or the orphan queue
	State     string     `json:"state"`
	Stored    *time.Time `json:"stored,omitempty"` // absent when the store dropped that event
	Moved     *time.Time `json:"moved,omitempty"`  // out of the orphan queue
	Delivered *time.Time `json:"delivered,omitempty"`
}

// Message returns the trace of a message id as a client or the provider
// writes it; ok is false when the store does not know the id.
func (m *Mux) Message(ctx context.Context, id string) (MessageTrace, bool, error) {
	keys := idCandidates(id, nil)
	if IDKey(id) == "" {
		return MessageTrace{}, false, nil
	}
	t := MessageTrace{Receipts: []ReceiptTrace{}}
	clients, found, err := lookupIDs(ctx, m.store, keys)
	if err != nil {
		return t, false, err
	}
	at := -1
	for i := range keys {
		if found[i] {
			at = i
			break
		}
	}
	if at < 0 {
		return t, false, nil
	}
	t.MessageID, t.Client = keys[at], clients[at]
	h, ok := m.store.(store.History)
	if !ok || !m.tracer.tracing() { // no history kept: the owner only
		return t, true, nil
	}
	t.Traced = true
	evs, err := h.History(ctx, keys[at])
	if err != nil {
		return t, true, err
	}
	for i, k := range keys {
		if i == at {
			continue
		}
		more, err := h.History(ctx, k)
		if err != nil {
			return t, true, err
		}
		for _, e := range more { // deliveries noted under the receipt's id
			if e.Kind == store.EventDelivered && e.Queue == t.Client {
				evs = append(evs, e)
			}
		}
	}
	t.build(evs)
	return t, true, nil
}

// build turns events into the trace, oldest first by their time: events
// of several instances (the receipt stored by one, delivered by another)
// reach the store in the order their batches were written, not in the
// order they happened.
func (t *MessageTrace) build(evs []store.Event) {
	slices.SortStableFunc(evs, func(a, b store.Event) int { return a.At.Compare(b.At) })
	find := func(queue, stat string, ok func(*ReceiptTrace) bool) *ReceiptTrace {
		var first *ReceiptTrace
		for i := range t.Receipts {
			r := &t.Receipts[i]
			if r.Queue != queue || !ok(r) {
				continue
			}
			if r.Stat == stat {
				return r
			}
			if first == nil {
				first = r
			}
		}
		return first
	}
	for _, e := range evs {
		at := e.At
		switch e.Kind {
		case store.EventSubmit:
			if t.Submitted == nil {
				t.Submitted = &at
			}
		case store.EventReceipt:
			t.Receipts = append(t.Receipts, ReceiptTrace{Stat: e.Stat, Queue: e.Queue, Stored: &at})
		case store.EventMoved:
			r := find(OrphanQueue, e.Stat, func(*ReceiptTrace) bool { return true })
			if r == nil { // stored while the id was unknown: the store kept no event
				t.Receipts = append(t.Receipts, ReceiptTrace{Stat: e.Stat})
				r = &t.Receipts[len(t.Receipts)-1]
				if !e.Since.IsZero() {
					since := e.Since
					r.Stored = &since
				}
			}
			r.Queue, r.Moved = e.Queue, &at
		case store.EventDelivered:
			r := find(e.Queue, e.Stat, func(r *ReceiptTrace) bool { return r.Delivered == nil })
			if r == nil {
				t.Receipts = append(t.Receipts, ReceiptTrace{Stat: e.Stat, Queue: e.Queue})
				r = &t.Receipts[len(t.Receipts)-1]
			}
			r.Delivered = &at
		}
	}
	for i := range t.Receipts {
		r := &t.Receipts[i]
		switch {
		case r.Delivered != nil:
			r.State = "delivered"
		case r.Queue == OrphanQueue:
			r.State = "orphaned"
		default:
			r.State = "queued"
		}
	}
}

// shortText returns the start of a deliver_sm's text, decoded, for the
// admin API: at most n runes.
func shortText(frame []byte, n int) string {
	text, dc, _, ok := pdu.PeekText(frame)
	if !ok {
		return ""
	}
	s, err := pdu.DecodeText(dc, text)
	if err != nil || !utf8.ValidString(s) {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// traceMoves records receipts moved out of the orphan queue to the
// clients their ids resolved to.
func (tr *tracer) traceMoves(rs []*report) {
	if !tr.tracing() {
		return
	}
	now := time.Now()
	for _, r := range rs {
		k := r.idKey
		if k == "" {
			k = IDKey(r.id)
		}
		_, stat := receiptFields(r.frame)
		tr.trace(store.Event{ID: k, Kind: store.EventMoved, At: now, Queue: r.client, Stat: stat, Since: r.since, Expires: tr.traceExpiry(now)})
	}
}
