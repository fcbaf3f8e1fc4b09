package mux

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// ErrUnknownClient is returned for a queue of no configured client.
var ErrUnknownClient = errors.New("no such client")

// ErrNotSupported is returned when the store lacks what an admin call
// needs (store.Peeker).
var ErrNotSupported = errors.New("the store cannot list its queues")

// QueuedEntry is one entry of a queue, for GET /queues/{client}.
type QueuedEntry struct {
	EntryID   string    `json:"entry_id"`
	Kind      string    `json:"kind"` // "report" or "mo"
	Enqueued  time.Time `json:"enqueued"`
	MessageID string    `json:"message_id,omitempty"` // a receipt's
	Stat      string    `json:"stat,omitempty"`       // a receipt's
	Text      string    `json:"text"`                 // the start of its text
}

// queueKnown reports whether client names a configured client's queue or
// the orphan queue.
func (m *Mux) queueKnown(client string) bool {
	if client == OrphanQueue {
		return true
	}
	_, ok := m.live.Load().byID[client]
	return ok
}

// peeker returns the store as a store.Peeker.
func (m *Mux) peeker() (store.Peeker, error) {
	p, ok := m.store.(store.Peeker)
	if !ok {
		return nil, ErrNotSupported
	}
	return p, nil
}

// Queue returns up to limit entries of a client's queue (or of the
// orphan queue), oldest first, without leasing them.
func (m *Mux) Queue(ctx context.Context, client string, limit int) ([]QueuedEntry, error) {
	if !m.queueKnown(client) {
		return nil, ErrUnknownClient
	}
	p, err := m.peeker()
	if err != nil {
		return nil, err
	}
	es, err := p.Peek(ctx, client, limit)
	if err != nil {
		return nil, err
	}
	out := make([]QueuedEntry, 0, len(es))
	for _, e := range es {
		q := QueuedEntry{EntryID: e.ID, Kind: "mo", Enqueued: e.Enqueued, Text: shortText(e.Frame, 60)}
		if e.Kind == store.KindReport {
			q.Kind = "report"
			q.MessageID, q.Stat = receiptFields(e.Frame)
		}
		out = append(out, q)
	}
	return out, nil
}

// moveScan bounds how many entries of the orphan queue, oldest first,
// MoveOrphans looks through.
const moveScan = 10000

// Moved is one entry MoveOrphans moved.
type Moved struct {
	EntryID   string `json:"entry_id"` // in the orphan queue
	MessageID string `json:"message_id,omitempty"`
}

// MoveOrphans moves entries of the orphan queue to the client to: those
// whose entry id is in entryIDs and the receipts whose message id is in
// messageIDs (compared as IDKey), among the oldest moveScan entries. As
// the matcher does, each is stored in the client's queue first, then
// removed from the orphan queue: a crash in between delivers it twice,
// never not at all. It returns what it moved, and logs it at Info with
// by (who asked: the admin API's remote address).
func (m *Mux) MoveOrphans(ctx context.Context, by, to string, entryIDs, messageIDs []string) ([]Moved, error) {
	if to == OrphanQueue || !m.queueKnown(to) {
		return nil, ErrUnknownClient
	}
	p, err := m.peeker()
	if err != nil {
		return nil, err
	}
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
	if err := m.store.Enqueue(ctx, items); err != nil {
		return nil, fmt.Errorf("store in %s: %w", to, err)
	}
	for _, it := range items {
		if it.Kind == store.KindReport {
			m.recent.add(reportKey(to, it.Frame)) // the matcher, should it match one later, does not store it again
		}
	}
	if err := m.store.Ack(ctx, OrphanQueue, ids); err != nil {
		return moved, fmt.Errorf("stored in %s, but not removed from the orphan queue: %w", to, err)
	}
	m.traceMoves(traced)
	m.log.Info("orphaned reports moved by an operator", zap.String("remote", by), zap.String("system_id", to),
		zap.Int("entries", len(ids)), zap.Strings("entry_ids", ids), zap.Strings("message_ids", msgIDs(moved)))
	if c := m.live.Load().byID[to]; c != nil {
		c.notify()
	}
	return moved, nil
}

func msgIDs(ms []Moved) []string {
	var out []string
	for _, m := range ms {
		if m.MessageID != "" {
			out = append(out, m.MessageID)
		}
	}
	return out
}
