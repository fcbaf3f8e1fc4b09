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

// acking marks an entry whose Ack is queued or being committed (ack.go):
// no Fetch may lease it again, whatever its lease was.
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
	w := newEnqueueWrite(items)
	return enqueueDone(w, s.batch.do(w.write))
}

// enqueueWrite is the write of one Enqueue.
type enqueueWrite struct {
	items []store.Item
	vals  []byte // the entries' values, back to back
}

// newEnqueueWrite prepares the write of items. The values are made here
// in one allocation, not per try: bbolt keeps a value, without copying
// it, until the transaction ends.
func newEnqueueWrite(items []store.Item) *enqueueWrite {
	now := time.Now()
	size := 0
	for _, it := range items {
		size += entryHeader + len(it.Frame)
	}
	w := &enqueueWrite{items: items, vals: make([]byte, 0, size)}
	for _, it := range items {
		w.vals = appendEntry(w.vals, it.Kind, now, it.Frame)
	}
	return w
}

// write appends the items to their queues in tx; it may run more than
// once.
func (w *enqueueWrite) write(tx *bbolt.Tx) error {
	qs := tx.Bucket(bucketQueues)
	var (
		b      *bbolt.Bucket
		client string
		key    [8]byte
		off    int
	)
	for i, it := range w.items {
		if i == 0 || it.Client != client {
			// The transaction keeps the buckets it opened: going back to
			// one is a map lookup.
			client = it.Client
			var err error
			if b, err = qs.CreateBucketIfNotExists([]byte(client)); err != nil {
				return fmt.Errorf("queue %q: %w", client, err)
			}
			b.FillPercent = queueFill
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		n := entryHeader + len(it.Frame)
		binary.BigEndian.PutUint64(key[:], seq)
		if err := b.Put(key[:], w.vals[off:off+n:off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func enqueueDone(w *enqueueWrite, err error) error {
	if err != nil {
		return fmt.Errorf("store.bolt: enqueue %d items: %w", len(w.items), err)
	}
	return nil
}

// PutIDsEnqueue implements store.JointWriter: the ids and the items in
// one transaction, one commit. If that fails, each is tried again on its
// own, so that each result is what PutIDs or Enqueue alone would return.
func (s *Store) PutIDsEnqueue(ctx context.Context, recs []store.IDRecord, items []store.Item) (idsErr, itemsErr error) {
	if err := s.acquire(ctx); err != nil {
		return err, err
	}
	defer s.release()
	var iw *idsWrite
	if len(recs) > 0 {
		if iw, idsErr = newIDsWrite(recs); idsErr != nil {
			idsErr = idsFailed(len(recs), idsErr)
		}
	}
	var ew *enqueueWrite
	if len(items) > 0 {
		ew = newEnqueueWrite(items)
	}
	switch {
	case iw != nil && ew != nil:
		err := s.batch.do(func(tx *bbolt.Tx) error {
			if err := iw.write(tx); err != nil {
				return err
			}
			return ew.write(tx)
		})
		if err == nil {
			return s.idsDone(iw, nil), nil
		}
		return s.idsDone(iw, s.batch.do(iw.write)), enqueueDone(ew, s.batch.do(ew.write))
	case iw != nil:
		return s.idsDone(iw, s.batch.do(iw.write)), nil
	case ew != nil:
		return idsErr, enqueueDone(ew, s.batch.do(ew.write))
	}
	return idsErr, nil
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
