package mux

import (
	"context"
	"errors"
	"time"

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
	return m.intake.moveOrphans(ctx, p, by, to, entryIDs, messageIDs)
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
