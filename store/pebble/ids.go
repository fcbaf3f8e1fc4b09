package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/smpp-mux/smpp-mux/store"
)

// errEmptyID rejects a record no report could ever be matched to.
var errEmptyID = errors.New("empty message id")

// PutIDs implements store.Store. It returns after the records are in the
// log and fsynced. A record for an id already held replaces it; its old
// index key is not looked up: the sweep drops an index key whose record
// has another expiry.
func (s *Store) PutIDs(ctx context.Context, recs []store.IDRecord) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(recs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := addIDs(b, recs); err != nil {
		return idsFailed(len(recs), err)
	}
	return s.idsDone(len(recs), b.Commit(pebbledb.Sync))
}

// addIDs adds the records and their index keys to b.
func addIDs(b *pebbledb.Batch, recs []store.IDRecord) error {
	var k, v []byte
	for _, r := range recs {
		if r.ID == "" {
			return errEmptyID
		}
	}
	for _, r := range recs {
		exp := unixNano(r.Expires)
		k = idKey(k[:0], r.ID)
		v = binary.BigEndian.AppendUint64(v[:0], uint64(exp))
		v = append(v, r.Client...)
		_ = b.Set(k, v, nil) // a batch copies key and value; Set fails on a committed batch only
		k = expKey(k[:0], exp, r.ID)
		_ = b.Set(k, nil, nil)
	}
	return nil
}

// idsDone counts n ids once committed (replacements too: the count is
// approximate), or wraps err.
func (s *Store) idsDone(n int, err error) error {
	if err != nil {
		return idsFailed(n, err)
	}
	s.ids.Add(int64(n))
	return nil
}

func idsFailed(n int, err error) error {
	return fmt.Errorf("store.pebble: put %d ids: %w", n, err)
}

// PutIDsEnqueue implements store.JointWriter: the ids and the items in
// one batch, one fsync. If that fails, each is tried again on its own, so
// that each result is what PutIDs or Enqueue alone would return.
func (s *Store) PutIDsEnqueue(ctx context.Context, recs []store.IDRecord, items []store.Item) (idsErr, itemsErr error) {
	if len(recs) == 0 || len(items) == 0 {
		return s.PutIDs(ctx, recs), s.Enqueue(ctx, items)
	}
	if err := s.acquire(ctx); err != nil {
		return err, err
	}
	b := s.db.NewBatch()
	if err := addIDs(b, recs); err != nil {
		_ = b.Close()
		s.release()
		return idsFailed(len(recs), err), s.Enqueue(ctx, items)
	}
	done := s.addItems(b, items)
	err := b.Commit(pebbledb.Sync)
	done()
	_ = b.Close()
	s.release()
	if err == nil {
		return s.idsDone(len(recs), nil), nil
	}
	return s.PutIDs(ctx, recs), s.Enqueue(ctx, items)
}

// LookupID implements store.Store. An id past its expiry is not found,
// even before the sweep removes it.
func (s *Store) LookupID(ctx context.Context, id string) (client string, ok bool, err error) {
	clients, found, err := s.LookupIDs(ctx, []string{id})
	if err != nil {
		return "", false, err
	}
	return clients[0], found[0], nil
}

// LookupIDs implements store.IDBatchLookup: one Get per id (the tables'
// bloom filters answer most misses). An id past its expiry is not found,
// even before the sweep removes it.
func (s *Store) LookupIDs(ctx context.Context, ids []string) (clients []string, found []bool, err error) {
	if err := s.acquire(ctx); err != nil {
		return nil, nil, err
	}
	defer s.release()
	clients, found = make([]string, len(ids)), make([]bool, len(ids))
	now := time.Now().UnixNano()
	var (
		k     []byte
		names map[string]string // one string per client, not per id
	)
	for i, id := range ids {
		k = idKey(k[:0], id)
		v, closer, err := s.db.Get(k)
		if errors.Is(err, pebbledb.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("store.pebble: lookup %d ids: %w", len(ids), err)
		}
		if len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) > now {
			name, ok := names[string(v[8:])]
			if !ok {
				if names == nil {
					names = make(map[string]string)
				}
				name = string(v[8:])
				names[name] = name
			}
			clients[i], found[i] = name, true
		}
		_ = closer.Close()
	}
	return clients, found, nil
}

// get returns a copy of the value of k, nil when there is none.
func (s *Store) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebbledb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v = append([]byte(nil), v...)
	return v, closer.Close()
}

// ExpireIDs implements store.IDExpirer: each id held with a later expiry
// gets its record rewritten with at and an index key at at (its old one
// is left for the sweep to drop), in one batch written to the log without
// an fsync of its own. A crash before the next synced batch loses it,
// which only leaves the ids their longer expiry.
func (s *Store) ExpireIDs(ctx context.Context, ids []string, at time.Time) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(ids) == 0 {
		return nil
	}
	cut := unixNano(at)
	sorted := slices.Clone(ids)
	slices.Sort(sorted) // one iterator, in key order, where a Get each would make an iterator each
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{prefixID}, UpperBound: []byte{prefixID + 1}})
	if err != nil {
		return fmt.Errorf("store.pebble: expire %d ids: %w", len(ids), err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	var k, v []byte
	for _, id := range sorted {
		k = idKey(k[:0], id)
		if id == "" || !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
			continue
		}
		v = append(v[:0], it.Value()...)
		if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= cut {
			continue
		}
		binary.BigEndian.PutUint64(v, uint64(cut))
		_ = b.Set(k, v, nil)
		_ = b.Set(expKey(k[:0], cut, id), nil, nil)
	}
	if err := closeIter(it); err != nil {
		return fmt.Errorf("store.pebble: expire %d ids: %w", len(ids), err)
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebbledb.NoSync); err != nil {
		return fmt.Errorf("store.pebble: expire %d ids: %w", len(ids), err)
	}
	return nil
}
