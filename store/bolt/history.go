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
	s.queueRiderLocked()
	s.events = append(s.events, events...)
	s.mu.Unlock()
	s.wakeAckLoop()
	return nil
}

// takeRiders is the batcher's rider: the queued acknowledgements'
// deletes (takeAcks), then the queued history events, then the queued
// ExpireIDs calls (after the events, which look up the same ids).
func (s *Store) takeRiders() (func(*bbolt.Tx) error, func(bool)) {
	ackWrite, ackDone := s.takeAcks()
	s.mu.Lock()
	events, finals := s.events, s.finals
	s.events, s.finals = nil, nil
	s.eventsRiding += len(events)
	s.finalsRiding += len(finals)
	s.mu.Unlock()
	if len(events) == 0 && len(finals) == 0 {
		return ackWrite, ackDone
	}
	write := func(tx *bbolt.Tx) error {
		if ackWrite != nil {
			if err := ackWrite(tx); err != nil {
				return err
			}
		}
		if err := writeEvents(tx, events); err != nil {
			return err
		}
		return writeFinals(tx, finals)
	}
	done := func(committed bool) {
		s.mu.Lock()
		s.eventsRiding -= len(events)
		s.finalsRiding -= len(finals)
		s.mu.Unlock()
		if ackDone != nil {
			ackDone(committed)
		}
	}
	return write, done
}

// writeEvents appends events to the histories of their ids: per id one
// lookup of the id, one read of its history, whose bytes are copied, not
// decoded, and one write. The events are sorted by id (stable: each id's
// stay in order), so the bucket is walked in key order.
func writeEvents(tx *bbolt.Tx, events []store.Event) error {
	ids, hist := tx.Bucket(bucketIDs), tx.Bucket(bucketHistory)
	events = store.SortEventsByID(events)
	var key []byte
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].ID == events[i].ID {
			j++
		}
		key = append(key[:0], events[i].ID...)
		if ids.Get(key) != nil { // else not held (any more): nothing would ever delete it
			old := hist.Get(key)
			v := make([]byte, len(old), len(old)+(j-i)*eventSize)
			copy(v, old) // old is only valid until the next write
			for _, e := range events[i:j] {
				v = store.AppendEvent(v, e)
			}
			if err := hist.Put(key, store.TrimHistory(v, store.MaxHistory)); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// eventSize is about the size of an encoded event, for allocation.
const eventSize = 32

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
