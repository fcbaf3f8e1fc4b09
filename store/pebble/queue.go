package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/smpp-mux/smpp-mux/store"
)

// queue is what the store keeps in memory of a client's queue.
type queue struct {
	next uint64 // the last sequence number handed out
	// head is at or below the client's oldest entry: Fetch, Peek, Stats
	// and the sweep start there, not at the deleted entries' tombstones
	// that an LSM keeps until a compaction drops them.
	head     uint64
	inflight []uint64 // first sequence of each Enqueue not yet committed
}

// lowInflight returns the first sequence of the Enqueue calls in flight,
// maxSeq when there is none.
func (q *queue) lowInflight() uint64 {
	low := uint64(maxSeq)
	for _, seq := range q.inflight {
		low = min(low, seq)
	}
	return low
}

// load counts the ids held and finds, for each client's queue, its first
// and last sequence numbers.
func load(db *pebbledb.DB) (ids int, queues map[string]*queue, err error) {
	it, err := db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{prefixID}, UpperBound: []byte{prefixID + 1}})
	if err != nil {
		return 0, nil, err
	}
	for it.First(); it.Valid(); it.Next() {
		ids++
	}
	if err := it.Close(); err != nil {
		return 0, nil, err
	}
	queues = make(map[string]*queue)
	it, err = db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{prefixQueue}, UpperBound: []byte{prefixQueue + 1}})
	if err != nil {
		return 0, nil, err
	}
	defer it.Close()
	for ok := it.First(); ok; {
		client, first, good := parseQueueKey(it.Key())
		if !good {
			ok = it.Next()
			continue
		}
		end := queueEnd(client)
		last := first
		if it.SeekLT(end) {
			if _, seq, good := parseQueueKey(it.Key()); good {
				last = seq
			}
		}
		queues[client] = &queue{next: last, head: first}
		ok = it.SeekGE(end)
	}
	return ids, queues, it.Error()
}

// parseQueueKey splits a queue key into its client and sequence.
func parseQueueKey(k []byte) (client string, seq uint64, ok bool) {
	if len(k) < 10 || k[0] != prefixQueue || k[len(k)-9] != 0 {
		return "", 0, false
	}
	return string(k[1 : len(k)-9]), binary.BigEndian.Uint64(k[len(k)-8:]), true
}

// scanQueue calls fn with each entry of client's queue from seq from on,
// oldest first, until fn returns false. v is only valid during the call.
func (s *Store) scanQueue(client string, from uint64, fn func(seq uint64, v []byte) bool) error {
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: queueKey(nil, client, from), UpperBound: queueEnd(client)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 8 {
			continue
		}
		if !fn(binary.BigEndian.Uint64(k[len(k)-8:]), it.Value()) {
			break
		}
	}
	return closeIter(it)
}

func closeIter(it *pebbledb.Iterator) error {
	err := it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// Enqueue implements store.Store. It returns after the items are in the
// log and fsynced; the store keeps copies of their frames. Each client's
// entries are keyed by a sequence number of its own, so they iterate
// oldest first and their ids are never reused.
func (s *Store) Enqueue(ctx context.Context, items []store.Item) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(items) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	done := s.addItems(b, items)
	err := b.Commit(pebbledb.Sync)
	done()
	return enqueueDone(len(items), err)
}

func enqueueDone(n int, err error) error {
	if err != nil {
		return fmt.Errorf("store.pebble: enqueue %d items: %w", n, err)
	}
	return nil
}

// addItems hands out the items' sequence numbers and adds them to b. The
// returned function must be called once b's commit has ended: until then
// the items' clients do not move their heads past them.
func (s *Store) addItems(b *pebbledb.Batch, items []store.Item) (done func()) {
	now := uint64(time.Now().UnixNano())
	seqs := make([]uint64, len(items))
	var firsts map[*queue]uint64
	s.mu.Lock()
	for i, it := range items {
		q := s.queues[it.Client]
		if q == nil {
			q = &queue{head: 1}
			s.queues[it.Client] = q
		}
		q.next++
		seqs[i] = q.next
		if _, ok := firsts[q]; !ok {
			if firsts == nil {
				firsts = make(map[*queue]uint64)
			}
			firsts[q] = q.next
			q.inflight = append(q.inflight, q.next)
		}
	}
	s.mu.Unlock()
	var k, v []byte
	for i, it := range items {
		k = queueKey(k[:0], it.Client, seqs[i])
		v = append(v[:0], byte(it.Kind))
		v = binary.BigEndian.AppendUint64(v, now)
		v = append(v, it.Frame...)
		_ = b.Set(k, v, nil) // a batch copies key and value; Set fails on a committed batch only
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for q, first := range firsts {
			if i := slices.Index(q.inflight, first); i >= 0 {
				q.inflight = slices.Delete(q.inflight, i, i+1)
			}
		}
	}
}

// Fetch implements store.Store. Entries past retention are skipped (the
// sweep removes and counts them). The lease is kept in memory only.
//
// s.mu is held across the read and the leasing, so that an entry is
// leased by one Fetch at a time.
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
	q := s.queues[client]
	if q == nil {
		return nil, nil
	}
	now := time.Now()
	held := s.leases[client]
	var (
		out  []store.Entry
		seqs []uint64
	)
	// Read before the iterator is made: every sequence below low that is
	// not in the iterator's view is deleted, and stays so.
	low, first := q.lowInflight(), uint64(0)
	err := s.scanQueue(client, q.head, func(seq uint64, v []byte) bool {
		if first == 0 {
			first = seq
		}
		if until, ok := held[seq]; ok && until.After(now) {
			return true
		}
		e, ok := s.entry(seq, v, now)
		if ok {
			out = append(out, e)
			seqs = append(seqs, seq)
		}
		return len(out) < max
	})
	if err != nil {
		return nil, fmt.Errorf("store.pebble: fetch %s: %w", client, err)
	}
	if first == 0 {
		first = q.next + 1 // nothing left: every sequence handed out is deleted or in flight
	}
	q.head = min(first, low)
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

// entry decodes a queue value; ok is false for one past retention or
// too short to be an entry.
func (s *Store) entry(seq uint64, v []byte, now time.Time) (store.Entry, bool) {
	if len(v) < entryHeader {
		return store.Entry{}, false
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9])))
	if now.Sub(at) > s.limits.Retention {
		return store.Entry{}, false
	}
	return store.Entry{
		ID:       strconv.FormatUint(seq, 10),
		Kind:     store.Kind(v[0]),
		Frame:    bytes.Clone(v[entryHeader:]),
		Enqueued: at,
	}, true
}

// Ack implements store.Store. The deletes are applied at once (no Fetch
// returns the entries again) and written to the log without an fsync of
// their own: the next synced batch (ids, reports) makes them durable.
// After a crash before that the entries are still there and are
// delivered again, which at-least-once delivery allows; the log is
// replayed in order, so nothing else is lost. Unknown ids are ignored.
func (s *Store) Ack(ctx context.Context, client string, ids []string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	seqs := parseIDs(ids)
	if len(seqs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	var k []byte
	for _, seq := range seqs {
		k = queueKey(k[:0], client, seq)
		_ = b.Delete(k, nil)
	}
	if err := b.Commit(pebbledb.NoSync); err != nil {
		return fmt.Errorf("store.pebble: ack %d entries of %s: %w", len(seqs), client, err)
	}
	s.mu.Lock()
	held := s.leases[client]
	for _, seq := range seqs {
		delete(held, seq)
	}
	s.mu.Unlock()
	return nil
}

// Release implements store.Store: the entries can be fetched again at
// once. Nothing is written.
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
		delete(held, seq)
	}
	return nil
}

// Peek implements store.Peeker: the first max entries of the client's
// queue within retention, leased or not.
func (s *Store) Peek(ctx context.Context, client string, max int) ([]store.Entry, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	s.mu.Lock()
	q := s.queues[client]
	var head uint64
	if q != nil {
		head = q.head
	}
	s.mu.Unlock()
	if q == nil || max <= 0 {
		return nil, nil
	}
	now := time.Now()
	var out []store.Entry
	err := s.scanQueue(client, head, func(seq uint64, v []byte) bool {
		if e, ok := s.entry(seq, v, now); ok {
			out = append(out, e)
		}
		return len(out) < max
	})
	if err != nil {
		return nil, fmt.Errorf("store.pebble: peek %s: %w", client, err)
	}
	return out, nil
}

// parseIDs returns the sequence numbers of entry ids, skipping ids this
// store never made.
func parseIDs(ids []string) []uint64 {
	seqs := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if seq, err := strconv.ParseUint(id, 10, 64); err == nil && seq > 0 {
			seqs = append(seqs, seq)
		}
	}
	return seqs
}
