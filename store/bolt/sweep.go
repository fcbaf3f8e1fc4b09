package bolt

import (
	"context"
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// sweepChunk bounds the keys one sweep transaction deletes, so that a
// large backlog is worked off in commits of bounded size while calls go on.
const sweepChunk = 10000

// sweepResult is what one sweep removed.
type sweepResult struct {
	expired   int            // ids past their expiry
	retention map[string]int // client -> entries past retention
	capped    map[string]int // client -> entries beyond the queue cap
}

// sweepLoop sweeps every limits.Sweep until ctx is done or Close is
// called. There is no sweep at start: Fetch and LookupID already ignore
// what is past retention or expiry, so the first tick is soon enough.
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

// sweepOnce sweeps, counts what it removed and logs it once.
func (s *Store) sweepOnce(now time.Time) {
	res, err := s.sweep(now)
	if err != nil {
		s.log.Error("sweep failed; it is retried at the next tick", zap.Error(err), zap.String("path", s.Path))
	}
	var ret, capped int
	for _, n := range res.retention {
		ret += n
	}
	for _, n := range res.capped {
		capped += n
	}
	if ret+capped > 0 {
		fields := []zap.Field{
			zap.Int("past_retention", ret), zap.Duration("retention", s.limits.Retention),
			zap.Int("beyond_queue_cap", capped), zap.Int("queue_cap", s.limits.QueueCap),
		}
		if ret > 0 {
			fields = append(fields, zap.Any("past_retention_by_client", res.retention))
		}
		if capped > 0 {
			fields = append(fields, zap.Any("beyond_queue_cap_by_client", res.capped))
		}
		s.log.Warn("dropped queued entries nobody fetched", fields...)
	}
	if res.expired > 0 {
		if ce := s.log.Check(zap.DebugLevel, "expired message ids"); ce != nil {
			ce.Write(zap.Int("ids", res.expired))
		}
	}
}

// sweep removes expired ids, then trims each client's queue. It counts as
// it goes, so a sweep cut short by an error still counts what it removed.
func (s *Store) sweep(now time.Time) (sweepResult, error) {
	res := sweepResult{retention: map[string]int{}, capped: map[string]int{}}
	s.flushAcks() // acknowledged entries do not count against the cap
	for more := true; more && !s.stopping(); {
		var n int
		var err error
		s.statsMu.Lock()
		n, more, err = s.expireIDs(now, sweepChunk)
		s.ids.Add(-int64(n))
		s.expired.Add(uint64(n))
		s.statsMu.Unlock()
		res.expired += n
		if err != nil {
			return res, err
		}
	}
	var clients []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketQueues).ForEachBucket(func(name []byte) error {
			clients = append(clients, string(name))
			return nil
		})
	})
	if err != nil {
		return res, err
	}
	for _, client := range clients {
		for more := true; more && !s.stopping(); {
			var ret, capped []uint64
			s.statsMu.Lock()
			ret, capped, more, err = s.trimQueue(client, now, sweepChunk)
			s.dropped.Add(uint64(len(ret) + len(capped)))
			s.statsMu.Unlock()
			res.retention[client] += len(ret)
			res.capped[client] += len(capped)
			s.forgetLeases(client, now, ret, capped)
			if err != nil {
				return res, err
			}
		}
		if res.retention[client] == 0 {
			delete(res.retention, client)
		}
		if res.capped[client] == 0 {
			delete(res.capped, client)
		}
	}
	return res, nil
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

// trimQueue removes, in one transaction of at most limit deletes, the
// oldest entries of client's queue beyond the queue cap and those past
// retention (and any value that is not an entry). It returns the sequence
// numbers removed for each reason, and whether more may be due.
func (s *Store) trimQueue(client string, now time.Time, limit int) (ret, capped []uint64, more bool, err error) {
	cut := now.Add(-s.limits.Retention)
	err = s.db.Update(func(tx *bbolt.Tx) error {
		ret, capped, more = nil, nil, false
		b := tx.Bucket(bucketQueues).Bucket([]byte(client))
		if b == nil {
			return nil
		}
		over := b.Stats().KeyN - s.limits.QueueCap // read before any change in this tx
		var due [][]byte
		c := b.Cursor()
	scan:
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(due) == limit {
				more = true
				break
			}
			var seq uint64
			if len(k) == 8 {
				seq = binary.BigEndian.Uint64(k)
			}
			at, ok := entryTime(v)
			switch {
			case len(due) < over:
				capped = append(capped, seq)
			case !ok || at.Before(cut):
				ret = append(ret, seq)
			default:
				break scan // oldest first: nothing younger is due
			}
			due = append(due, append([]byte(nil), k...))
		}
		for _, k := range due {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, err
	}
	return ret, capped, more, nil
}

// forgetLeases drops the leases of removed entries, and leases that ended
// before now, so that the lease map stays as small as the work in flight.
func (s *Store) forgetLeases(client string, now time.Time, removed ...[]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.leases[client]
	for _, seqs := range removed {
		for _, seq := range seqs {
			delete(held, seq)
		}
	}
	for seq, until := range held {
		if until.Before(now) {
			delete(held, seq)
		}
	}
	if len(held) == 0 {
		delete(s.leases, client)
	}
}
