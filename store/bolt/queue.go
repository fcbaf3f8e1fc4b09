package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
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
	_, err := s.EnqueueLeased(ctx, items, nil, 0)
	return err
}

// EnqueueLeased implements store.LeasedEnqueuer. Leases are in memory
// only, as Fetch's are: they are set inside the write transaction,
// before its commit makes the entries visible to Fetch.
func (s *Store) EnqueueLeased(ctx context.Context, items []store.Item, leased []bool, lease time.Duration) ([]string, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	if len(items) == 0 {
		return nil, nil
	}
	w := s.newEnqueueWrite(items, leased, lease)
	err := s.batch.do(w.write)
	return w.settle(err), enqueueDone(w, err)
}

// enqueueWrite is the write of one Enqueue.
type enqueueWrite struct {
	items []store.Item
	vals  []byte // the entries' values, back to back

	s      *Store
	leased []bool    // nil: none
	until  time.Time // the leases' end
	seqs   []uint64  // the items' sequence numbers, as of the last try
	tried  []leaseKey
}

// leaseKey is a lease one try of an enqueueWrite set.
type leaseKey struct {
	client string
	seq    uint64
}

// newEnqueueWrite prepares the write of items. The values are made here
// in one allocation, not per try: bbolt keeps a value, without copying
// it, until the transaction ends.
func (s *Store) newEnqueueWrite(items []store.Item, leased []bool, lease time.Duration) *enqueueWrite {
	now := time.Now()
	size := 0
	for _, it := range items {
		size += entryHeader + len(it.Frame)
	}
	w := &enqueueWrite{items: items, vals: make([]byte, 0, size), s: s}
	for _, it := range items {
		w.vals = appendEntry(w.vals, it.Kind, now, it.Frame)
	}
	if slices.Contains(leased, true) {
		w.leased, w.until = leased, now.Add(lease)
	}
	return w
}

// write appends the items to their queues in tx; it may run more than
// once. The leased items get their leases before tx commits.
func (w *enqueueWrite) write(tx *bbolt.Tx) error {
	qs := tx.Bucket(bucketQueues)
	var (
		b      *bbolt.Bucket
		client string
		key    [8]byte
		off    int
	)
	w.seqs = w.seqs[:0]
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
		w.seqs = append(w.seqs, seq)
	}
	if w.leased != nil {
		w.lease()
	}
	return nil
}

// lease sets the leases of the leased items of this try.
func (w *enqueueWrite) lease() {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	for i, it := range w.items {
		if !w.leased[i] {
			continue
		}
		held := w.s.leases[it.Client]
		if held == nil {
			held = make(map[uint64]time.Time)
			w.s.leases[it.Client] = held
		}
		held[w.seqs[i]] = w.until
		w.tried = append(w.tried, leaseKey{it.Client, w.seqs[i]})
	}
}

// settle returns the leased items' ids once the write returned err, and
// drops the leases set by tries that were not committed, so that they
// hide no later entry that gets their sequence numbers.
func (w *enqueueWrite) settle(err error) []string {
	if w.leased == nil {
		return nil
	}
	ids := make([]string, len(w.items))
	kept := map[leaseKey]bool{}
	if err == nil {
		for i, it := range w.items {
			if w.leased[i] {
				ids[i] = strconv.FormatUint(w.seqs[i], 10)
				kept[leaseKey{it.Client, w.seqs[i]}] = true
			}
		}
		if len(kept) == len(w.tried) {
			return ids // one try, committed
		}
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	for _, k := range w.tried {
		if held := w.s.leases[k.client]; !kept[k] && held[k.seq].Equal(w.until) {
			delete(held, k.seq)
		}
	}
	if err != nil {
		return nil
	}
	return ids
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
	_, idsErr, itemsErr = s.PutIDsEnqueueLeased(ctx, recs, items, nil, 0)
	return idsErr, itemsErr
}

// PutIDsEnqueueLeased implements store.LeasedJointWriter: PutIDsEnqueue
// with the items leased as EnqueueLeased leases them.
func (s *Store) PutIDsEnqueueLeased(ctx context.Context, recs []store.IDRecord, items []store.Item, leased []bool, lease time.Duration) (ids []string, idsErr, itemsErr error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err, err
	}
	defer s.release()
	var iw *idsWrite
	if len(recs) > 0 {
		if iw, idsErr = newIDsWrite(recs); idsErr != nil {
			idsErr = idsFailed(len(recs), idsErr)
		}
	}
	if len(items) == 0 {
		if iw != nil {
			idsErr = s.idsDone(iw, s.batch.do(iw.write))
		}
		return nil, idsErr, nil
	}
	ew := s.newEnqueueWrite(items, leased, lease)
	if iw == nil {
		err := s.batch.do(ew.write)
		return ew.settle(err), idsErr, enqueueDone(ew, err)
	}
	err := s.batch.do(func(tx *bbolt.Tx) error {
		if err := iw.write(tx); err != nil {
			return err
		}
		return ew.write(tx)
	})
	if err == nil {
		return ew.settle(nil), s.idsDone(iw, nil), nil
	}
	idsErr = s.idsDone(iw, s.batch.do(iw.write))
	err = s.batch.do(ew.write)
	return ew.settle(err), idsErr, enqueueDone(ew, err)
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
