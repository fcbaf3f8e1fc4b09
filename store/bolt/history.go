package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/smpp-mux/smpp-mux/store"
)

// bucketHistory holds each id's history: id -> events, each in the form
// of store.AppendEvent, oldest first, at most store.MaxHistory. A history
// is deleted with its id (expireIDs).
var bucketHistory = []byte("history")

// AddEvents implements store.History. The events are only queued, like
// acknowledgements: they ride along in the next commit of other writes,
// or are committed within ackLinger by the store itself, so a trace costs
// no fsync of its own under load. Events of ids the store does not hold
// are dropped when they are written. AddEvents returns before they are
// durable; should their commit fail, they are lost.
func (s *Store) AddEvents(ctx context.Context, events []store.Event) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(events) == 0 {
		return nil
	}
	s.mu.Lock()
	if len(s.acks) == 0 && len(s.events) == 0 {
		s.acksSince = time.Now()
	}
	s.events = append(s.events, events...)
	s.mu.Unlock()
	select {
	case s.ackWake <- struct{}{}:
	default:
	}
	return nil
}

// takeRiders is the batcher's rider: the queued acknowledgements' deletes
// (takeAcks), then the queued history events.
func (s *Store) takeRiders() (func(*bbolt.Tx) error, func(bool)) {
	ackWrite, ackDone := s.takeAcks()
	s.mu.Lock()
	events := s.events
	s.events = nil
	s.eventsRiding += len(events)
	s.mu.Unlock()
	if len(events) == 0 {
		return ackWrite, ackDone
	}
	write := func(tx *bbolt.Tx) error {
		if ackWrite != nil {
			if err := ackWrite(tx); err != nil {
				return err
			}
		}
		return writeEvents(tx, events)
	}
	done := func(committed bool) {
		s.mu.Lock()
		s.eventsRiding -= len(events)
		s.mu.Unlock()
		if ackDone != nil {
			ackDone(committed)
		}
	}
	return write, done
}

// writeEvents appends events to the histories of their ids, one read and
// one write of each id's history.
func writeEvents(tx *bbolt.Tx, events []store.Event) error {
	ids, hist := tx.Bucket(bucketIDs), tx.Bucket(bucketHistory)
	byID := make(map[string][]store.Event)
	var order []string
	for _, e := range events {
		if _, ok := byID[e.ID]; !ok {
			order = append(order, e.ID)
		}
		byID[e.ID] = append(byID[e.ID], e)
	}
	for _, id := range order {
		if ids.Get([]byte(id)) == nil {
			continue // not held (any more): nothing would ever delete it
		}
		var v []byte
		n := 0
		for rest := hist.Get([]byte(id)); len(rest) > 0; n++ {
			e, r, err := store.DecodeEvent(rest, id)
			if err != nil {
				break // damaged: start again
			}
			v = store.AppendEvent(v, e)
			rest = r
		}
		for _, e := range byID[id] {
			v = store.AppendEvent(v, e)
			n++
		}
		for ; n > store.MaxHistory; n-- {
			_, r, _ := store.DecodeEvent(v, id)
			v = r
		}
		if err := hist.Put([]byte(id), v); err != nil {
			return err
		}
	}
	return nil
}

// History implements store.History. It first commits the events queued,
// so that a trace read right after AddEvents has them.
func (s *Store) History(ctx context.Context, id string) ([]store.Event, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	s.mu.Lock()
	n := len(s.events) + s.eventsRiding
	s.mu.Unlock()
	if n > 0 {
		_ = s.batch.do(nil)
	}
	var out []store.Event
	now := unixNano(time.Now())
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketIDs).Get([]byte(id)); len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= now {
			return nil
		}
		for rest := tx.Bucket(bucketHistory).Get([]byte(id)); len(rest) > 0; {
			e, r, err := store.DecodeEvent(rest, id)
			if err != nil {
				return err
			}
			out = append(out, e)
			rest = r
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.bolt: history of %s: %w", id, err)
	}
	return out, nil
}

// Peek implements store.Peeker: the first max entries of the client's
// queue within retention, leased or not, in one read transaction, after
// the acknowledgements queued are committed (as Stats does).
func (s *Store) Peek(ctx context.Context, client string, max int) ([]store.Entry, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	s.flushAcks()
	now := time.Now()
	var out []store.Entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketQueues).Bucket([]byte(client))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			at, ok := entryTime(v)
			if len(k) != 8 || !ok || now.Sub(at) > s.limits.Retention {
				continue
			}
			out = append(out, store.Entry{
				ID:       strconv.FormatUint(binary.BigEndian.Uint64(k), 10),
				Kind:     store.Kind(v[0]),
				Frame:    append([]byte(nil), v[9:]...),
				Enqueued: at,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.bolt: peek %s: %w", client, err)
	}
	return out, nil
}

var (
	_ store.History = (*Store)(nil)
	_ store.Peeker  = (*Store)(nil)
)
