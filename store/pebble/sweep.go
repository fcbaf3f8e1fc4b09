package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"go.uber.org/zap"
)

// sweepChunk bounds the ids one sweep batch removes, so that a large
// backlog is worked off in batches of bounded size while calls go on.
const sweepChunk = 10000

// sweepLoop sweeps every limits.Sweep until ctx is done or Close is
// called. There is no sweep at start: Fetch and LookupID already ignore
// what is past retention or expiry.
func (s *Store) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.limits.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case now := <-t.C:
			s.sweepOnce(now)
		}
	}
}

// sweepOnce removes expired ids, then trims each client's queue, and logs
// what it dropped once.
func (s *Store) sweepOnce(now time.Time) {
	for more := true; more && !s.stopping(); {
		n, m, err := s.expireIDs(now, sweepChunk)
		more = m
		s.ids.Add(-int64(n))
		s.expired.Add(uint64(n))
		if err != nil {
			s.log.Error("sweep failed; it is retried at the next tick", zap.Error(err), zap.String("path", s.Path))
			return
		}
	}
	s.mu.Lock()
	clients := make([]string, 0, len(s.queues))
	for c := range s.queues {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	ret, capped := map[string]int{}, map[string]int{}
	for _, client := range clients {
		if s.stopping() {
			break
		}
		r, c, err := s.trimQueue(client, now)
		if err != nil {
			s.log.Error("sweep failed; it is retried at the next tick", zap.Error(err), zap.String("path", s.Path))
			return
		}
		if r > 0 {
			ret[client] = r
		}
		if c > 0 {
			capped[client] = c
		}
	}
	if len(ret)+len(capped) > 0 {
		s.log.Warn("dropped queued entries nobody fetched",
			zap.Any("past_retention_by_client", ret), zap.Duration("retention", s.limits.Retention),
			zap.Any("beyond_queue_cap_by_client", capped), zap.Int("queue_cap", s.limits.QueueCap))
	}
}

// stopping reports whether Close has begun.
func (s *Store) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// expireIDs removes ids whose index key is at or before now, up to limit
// of them, in one batch: the record and history of each whose record has
// that expiry (a record replaced or shortened since has another), and the
// index keys, by one range delete, which later scans skip at once. It
// returns how many ids it removed and whether more may be due.
func (s *Store) expireIDs(now time.Time, limit int) (n int, more bool, err error) {
	if err := s.acquire(context.Background()); err != nil {
		return 0, false, nil // closed: Close stops the sweep
	}
	defer s.release()
	upper := binary.BigEndian.AppendUint64([]byte{prefixExp}, uint64(unixNano(now))+1)
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{prefixExp}, UpperBound: upper})
	if err != nil {
		return 0, false, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var (
		last []byte
		k    []byte
		keys int
	)
	for ok := it.First(); ok; ok = it.Next() {
		if keys == limit {
			more = true
			break
		}
		key := it.Key()
		keys++
		last = append(last[:0], key...)
		if len(key) < 9 {
			continue
		}
		id := string(key[9:])
		k = idKey(k[:0], id)
		rec, err := s.get(k)
		if err != nil {
			_ = it.Close()
			return 0, false, err
		}
		if len(rec) >= 8 && bytes.Equal(rec[:8], key[1:9]) {
			_ = b.Delete(k, nil)
			_ = b.Delete(historyKey(k[:0], id), nil)
			n++
		}
	}
	if err := closeIter(it); err != nil {
		return 0, false, err
	}
	if keys == 0 {
		return 0, false, nil
	}
	_ = b.DeleteRange([]byte{prefixExp}, append(last, 0), nil)
	// Not synced: a crash before the next synced batch only repeats it.
	if err := b.Commit(pebbledb.NoSync); err != nil {
		return 0, false, err
	}
	return n, more, nil
}

// trimQueue removes the oldest entries of client's queue beyond the
// queue cap and those past retention (and any value that is not an
// entry), oldest first, in one batch. It returns how many it removed for
// each reason.
func (s *Store) trimQueue(client string, now time.Time) (ret, capped int, err error) {
	if err := s.acquire(context.Background()); err != nil {
		return 0, 0, nil
	}
	defer s.release()
	s.mu.Lock()
	q := s.queues[client]
	head := q.head
	s.mu.Unlock()
	n := 0
	if err := s.scanQueue(client, head, func(uint64, []byte) bool { n++; return true }); err != nil {
		return 0, 0, err
	}
	over := n - s.limits.QueueCap
	cut := now.Add(-s.limits.Retention).UnixNano()
	var due []uint64
	err = s.scanQueue(client, head, func(seq uint64, v []byte) bool {
		switch {
		case len(due) < over:
			capped++
		case len(v) < entryHeader || int64(binary.BigEndian.Uint64(v[1:9])) < cut:
			ret++
		default:
			return false // oldest first: nothing younger is due
		}
		due = append(due, seq)
		return true
	})
	if err != nil || len(due) == 0 {
		return 0, 0, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var k []byte
	for _, seq := range due {
		k = queueKey(k[:0], client, seq)
		_ = b.Delete(k, nil)
	}
	if err := b.Commit(pebbledb.NoSync); err != nil {
		return 0, 0, err
	}
	s.dropped.Add(uint64(ret + capped))
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.leases[client]
	for _, seq := range due {
		delete(held, seq)
	}
	for seq, until := range held {
		if until.Before(now) {
			delete(held, seq)
		}
	}
	if len(held) == 0 {
		delete(s.leases, client)
	}
	return ret, capped, nil
}
