package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/smpp-mux/smpp-mux/store"
)

// AddEvents implements store.History. Each id's events are merged into
// its history (pebble's concatenating merge: no read of the history), in
// one batch written to the log without an fsync of its own, so a trace
// costs no fsync; the next synced batch makes it durable. Events of ids
// the store does not hold are dropped. A history keeps growing by merges
// until it is read (History keeps the last store.MaxHistory events) or
// deleted with its id.
func (s *Store) AddEvents(ctx context.Context, events []store.Event) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(events) == 0 {
		return nil
	}
	events = store.SortEventsByID(events)
	// One iterator looks the ids up in key order, where a Get each would
	// make an iterator each.
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{prefixID}, UpperBound: []byte{prefixID + 1}})
	if err != nil {
		return fmt.Errorf("store.pebble: add %d events: %w", len(events), err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	var k, v []byte
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].ID == events[i].ID {
			j++
		}
		k = idKey(k[:0], events[i].ID)
		if it.SeekGE(k) && bytes.Equal(it.Key(), k) { // else not held (any more): nothing would ever delete it
			v = v[:0]
			for _, e := range events[i:j] {
				v = store.AppendEvent(v, e)
			}
			_ = b.Merge(historyKey(k[:0], events[i].ID), v, nil)
		}
		i = j
	}
	if err := closeIter(it); err != nil {
		return fmt.Errorf("store.pebble: add %d events: %w", len(events), err)
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebbledb.NoSync); err != nil {
		return fmt.Errorf("store.pebble: add %d events: %w", len(events), err)
	}
	return nil
}

// History implements store.History: the last store.MaxHistory events of
// an id the store holds.
func (s *Store) History(ctx context.Context, id string) ([]store.Event, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	rec, err := s.get(idKey(nil, id))
	if err != nil {
		return nil, fmt.Errorf("store.pebble: history of %s: %w", id, err)
	}
	if len(rec) < 8 || int64(binary.BigEndian.Uint64(rec)) <= unixNano(time.Now()) {
		return nil, nil
	}
	v, err := s.get(historyKey(nil, id))
	if err != nil {
		return nil, fmt.Errorf("store.pebble: history of %s: %w", id, err)
	}
	var out []store.Event
	for rest := store.TrimHistory(v, store.MaxHistory); len(rest) > 0; {
		e, r, err := store.DecodeEvent(rest, id)
		if err != nil {
			return nil, fmt.Errorf("store.pebble: history of %s: %w", id, err)
		}
		out = append(out, e)
		rest = r
	}
	return out, nil
}
