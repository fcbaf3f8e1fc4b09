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

// acking marks an entry whose Ack is being committed: no Fetch may lease
// it again, whatever its lease was.
var acking = time.Unix(1<<62, 0)

// Enqueue implements store.Store. It returns after the items are committed
// and fsynced; the store keeps copies of their frames. Each client's
// entries are keyed by the client's bucket sequence, so they iterate
// oldest first and their ids are never reused.
func (s *Store) Enqueue(ctx context.Context, items []store.Item) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(items) == 0 {
		return nil
	}
	now := time.Now()
	err := s.batch.do(func(tx *bbolt.Tx) error {
		qs := tx.Bucket(bucketQueues)
		var (
			b      *bbolt.Bucket
			client string
		)
		for _, it := range items {
			if b == nil || it.Client != client {
				var err error
				if b, err = qs.CreateBucketIfNotExists([]byte(it.Client)); err != nil {
					return fmt.Errorf("queue %q: %w", it.Client, err)
				}
				client = it.Client
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(seq), encodeEntry(it.Kind, now, it.Frame)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.bolt: enqueue %d items: %w", len(items), err)
	}
	return nil
}

// Fetch implements store.Store. Entries past retention are skipped (the
// sweep removes and counts them). The lease is kept in memory only.
//
// s.mu is held across the read transaction and the leasing, so that an
// entry is leased by one Fetch at a time, and Ack's removal of its lease
// (after its delete is committed) cannot fall between a Fetch's snapshot
// and its lease check.
func (s *Store) Fetch(ctx context.Context, client string, max int, lease time.Duration) ([]store.Entry, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	if max <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	held := s.leases[client]
	var (
		out  []store.Entry
		seqs []uint64
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketQueues).Bucket([]byte(client))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			if len(k) != 8 {
				continue
			}
			seq := binary.BigEndian.Uint64(k)
			if until, ok := held[seq]; ok && until.After(now) {
				continue
			}
			at, ok := entryTime(v)
			if !ok || now.Sub(at) > s.limits.Retention {
				continue
			}
			out = append(out, store.Entry{
				ID:       strconv.FormatUint(seq, 10),
				Kind:     store.Kind(v[0]),
				Frame:    append([]byte(nil), v[9:]...),
				Enqueued: at,
			})
			seqs = append(seqs, seq)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.bolt: fetch %s: %w", client, err)
	}
	if len(seqs) > 0 {
		if held == nil {
			held = make(map[uint64]time.Time, len(seqs))
			s.leases[client] = held
		}
		until := now.Add(lease)
		for _, seq := range seqs {
			held[seq] = until
		}
	}
	return out, nil
}

// Ack implements store.Store. It returns after the deletes are committed
// and fsynced. Unknown ids are ignored.
func (s *Store) Ack(ctx context.Context, client string, ids []string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	seqs := parseIDs(ids)
	if len(seqs) == 0 {
		return nil
	}
	prev := s.markAcking(client, seqs)
	err := s.batch.do(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketQueues).Bucket([]byte(client))
		if b == nil {
			return nil
		}
		for _, seq := range seqs {
			if err := b.Delete(seqKey(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	s.mu.Lock()
	held := s.leases[client]
	for i, seq := range seqs {
		if err != nil && !prev[i].IsZero() && !prev[i].Equal(acking) {
			if held == nil {
				held = make(map[uint64]time.Time)
				s.leases[client] = held
			}
			held[seq] = prev[i] // not deleted: the lease it had stands
		} else {
			delete(held, seq)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store.bolt: ack %d entries of %s: %w", len(seqs), client, err)
	}
	return nil
}

// markAcking puts acking on each seq's lease and returns the leases they
// had (zero where none).
func (s *Store) markAcking(client string, seqs []uint64) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.leases[client]
	if held == nil {
		held = make(map[uint64]time.Time, len(seqs))
		s.leases[client] = held
	}
	prev := make([]time.Time, len(seqs))
	for i, seq := range seqs {
		prev[i] = held[seq]
		held[seq] = acking
	}
	return prev
}

// Release implements store.Store: the entries can be fetched again at
// once. Nothing is written to disk.
func (s *Store) Release(ctx context.Context, client string, ids []string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	seqs := parseIDs(ids)
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.leases[client]
	for _, seq := range seqs {
		if !held[seq].Equal(acking) {
			delete(held, seq)
		}
	}
	return nil
}

// parseIDs returns the sequence numbers of entry ids, skipping ids this
// store never made.
func parseIDs(ids []string) []uint64 {
	seqs := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if seq, err := strconv.ParseUint(id, 10, 64); err == nil {
			seqs = append(seqs, seq)
		}
	}
	return seqs
}
