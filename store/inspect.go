package store

// This file holds the optional interfaces of the admin API: History (a
// short trace per message id, for GET /messages/{id}) and Peeker (a queue
// read without leasing, for GET /queues/{client} and the orphan queue's
// move).

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"
)

// EventKind tells what happened to a message id, in its history.
type EventKind uint8

// Kinds of history events.
const (
	EventSubmit    EventKind = 1 // the provider answered a submit_sm with the id
	EventReceipt   EventKind = 2 // a receipt for the id was stored in Queue
	EventMoved     EventKind = 3 // a receipt for the id left the orphan queue for Queue
	EventDelivered EventKind = 4 // the client Queue acknowledged a receipt for the id
)

// Event is one step in the life of a message id: the rows of
// GET /messages/{id}.
type Event struct {
	ID    string // normalised message id (see mux.IDKey)
	Kind  EventKind
	At    time.Time
	Queue string // the client (or the orphan queue, for a receipt stored unmatched)
	Stat  string // the receipt's stat, for receipts, moves and deliveries
	// Since is when a moved receipt was stored in the orphan queue (a
	// store may have dropped that receipt's own event: its id was not
	// known then).
	Since   time.Time
	Expires time.Time
}

// MaxHistory is how many events a store keeps per message id: the
// latest ones.
const MaxHistory = 32

// History is implemented by stores that keep a short history of each
// message id, for GET /messages/{id}. It is a trace, not a ledger: a
// store may make AddEvents durable later than its other writes (store.bolt
// commits them with its next commit), may drop the events of an id it
// does not hold, keeps at most MaxHistory events per id (the latest), and
// forgets them when the id expires (Expires where the store has no id
// expiry of its own to follow).
type History interface {
	// AddEvents appends events to their ids' histories.
	AddEvents(ctx context.Context, events []Event) error
	// History returns the events of an id, oldest first; none when the
	// store has none.
	History(ctx context.Context, id string) ([]Event, error)
}

// Peeker is implemented by stores that can read a queue without leasing
// its entries, for the admin API.
type Peeker interface {
	// Peek returns up to max entries of the client's queue, oldest first,
	// leased ones included.
	Peek(ctx context.Context, client string, max int) ([]Entry, error)
}

// AppendEvent appends the encoding of e, without its ID and Expires, to
// b: kind (1), time (8, Unix ns), then Queue and Stat, each a length (1)
// and at most 255 bytes, then, for EventMoved, Since (8, Unix ns). Stores
// keep histories in this form.
func AppendEvent(b []byte, e Event) []byte {
	b = append(b, byte(e.Kind))
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UnixNano()))
	for _, s := range []string{e.Queue, e.Stat} {
		s = s[:min(len(s), 255)]
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	if e.Kind == EventMoved {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Since.UnixNano()))
	}
	return b
}

// errBadEvent is returned for a history that does not decode.
var errBadEvent = errors.New("store: malformed history event")

// DecodeEvent decodes one event from the start of b (see AppendEvent)
// and returns the rest of b.
func DecodeEvent(b []byte, id string) (Event, []byte, error) {
	if len(b) < 9 {
		return Event{}, nil, errBadEvent
	}
	e := Event{ID: id, Kind: EventKind(b[0]), At: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9])))}
	b = b[9:]
	for _, s := range []*string{&e.Queue, &e.Stat} {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return Event{}, nil, errBadEvent
		}
		*s = string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
	}
	if e.Kind == EventMoved {
		if len(b) < 8 {
			return Event{}, nil, errBadEvent
		}
		e.Since = time.Unix(0, int64(binary.BigEndian.Uint64(b)))
		b = b[8:]
	}
	return e, b, nil
}

// eventLen returns the length of the encoded event at the start of b (see
// AppendEvent), or 0 when b does not start with a whole one.
func eventLen(b []byte) int {
	if len(b) < 9 {
		return 0
	}
	n := 9
	for range 2 {
		if len(b) < n+1 || len(b) < n+1+int(b[n]) {
			return 0
		}
		n += 1 + int(b[n])
	}
	if EventKind(b[0]) == EventMoved {
		if len(b) < n+8 {
			return 0
		}
		n += 8
	}
	return n
}

// TrimHistory returns the last max events of an encoded history (events
// of AppendEvent, back to back), without decoding them: a store that
// appends events to a history trims it with it. A history that does not
// decode to its end is returned empty, as DecodeEvent would fail on it.
func TrimHistory(b []byte, max int) []byte {
	var ends []int // end offset of each event
	for off := 0; off < len(b); {
		n := eventLen(b[off:])
		if n == 0 {
			return nil
		}
		off += n
		ends = append(ends, off)
	}
	if len(ends) <= max {
		return b
	}
	return b[ends[len(ends)-max-1]:]
}

// SortEventsByID returns a copy of events sorted by ID, each ID's events
// in their order, for a store that writes histories in key order. It
// sorts indices, not the events, which are large to move.
func SortEventsByID(events []Event) []Event {
	idx := make([]int32, len(events))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return strings.Compare(events[a].ID, events[b].ID) })
	out := make([]Event, len(events))
	for i, j := range idx {
		out[i] = events[j]
	}
	return out
}
