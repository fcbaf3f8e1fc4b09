package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/smpp-mux/smpp-mux/store"
)

// errEmptyID rejects a record no report could ever be matched to.
var errEmptyID = errors.New("empty message id")

// PutIDs implements store.Store. It returns after the records are
// committed and fsynced. A record for an id already held replaces it.
func (s *Store) PutIDs(ctx context.Context, recs []store.IDRecord) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(recs) == 0 {
		return nil
	}
	w, err := newIDsWrite(recs)
	if err != nil {
		return idsFailed(len(recs), err)
	}
	return s.idsDone(w, s.batch.do(w.write))
}

// idsWrite is the write of one PutIDs.
type idsWrite struct {
	recs  []store.IDRecord // sorted by id; of equal ids, the last put last
	vals  []byte           // the records' values, back to back
	added int64            // ids that were not held before; set by write
}

// newIDsWrite prepares the write of recs. The values are made here in
// one allocation, not per try: bbolt keeps a value, without copying it,
// until the transaction ends. The records are put in id order: that is
// the order of the bucket's keys, and tells which ids are new without
// looking them up (see write).
func newIDsWrite(recs []store.IDRecord) (*idsWrite, error) {
	size := 0
	for _, r := range recs {
		if r.ID == "" {
			return nil, errEmptyID
		}
		size += 8 + len(r.Client)
	}
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b store.IDRecord) int { return strings.Compare(a.ID, b.ID) })
	w := &idsWrite{recs: sorted, vals: make([]byte, 0, size)}
	for _, r := range sorted {
		w.vals = appendID(w.vals, r)
	}
	return w, nil
}

// write puts the records in tx; it may run more than once. An id that
// sorts after every key the bucket had is new (the provider's ids
// ascend, so most are): only the others are looked up, for the index key
// of the record they replace.
func (w *idsWrite) write(tx *bbolt.Tx) error {
	w.added = 0
	recs := w.recs
	ids, exp := tx.Bucket(bucketIDs), tx.Bucket(bucketIDExp)
	lastKey, _ := ids.Cursor().Last()
	last := string(lastKey)
	firstNew, _ := slices.BinarySearchFunc(recs, last, func(r store.IDRecord, last string) int {
		if r.ID > last {
			return 1
		}
		return -1
	})
	ids.FillPercent = fillFor(len(recs)-firstNew, len(recs))
	var (
		key, ek []byte
		off     int
	)
	lastExp, _ := exp.Cursor().Last()
	after := 0
	for _, r := range recs {
		ek = appendExpKey(ek[:0], unixNano(r.Expires), r.ID)
		if bytes.Compare(ek, lastExp) > 0 {
			after++
		}
	}
	exp.FillPercent = fillFor(after, len(recs))
	for i, r := range recs {
		key = append(key[:0], r.ID...)
		v := w.vals[off : off+8+len(r.Client) : off+8+len(r.Client)]
		off += len(v)
		var old []byte
		if i < firstNew || (i > 0 && r.ID == recs[i-1].ID) {
			old = ids.Get(key)
		}
		if len(old) >= 8 {
			// The old expiry's index key would outlive the record it points to.
			ek = appendExpKey(ek[:0], int64(binary.BigEndian.Uint64(old)), r.ID)
			if err := exp.Delete(ek); err != nil {
				return err
			}
		} else {
			w.added++
		}
		if err := ids.Put(key, v); err != nil {
			return err
		}
		ek = appendExpKey(ek[:0], unixNano(r.Expires), r.ID)
		if err := exp.Put(ek, nil); err != nil {
			return err
		}
	}
	return nil
}

// idsDone counts the ids w added once committed, or wraps err.
func (s *Store) idsDone(w *idsWrite, err error) error {
	if err != nil {
		return idsFailed(len(w.recs), err)
	}
	s.ids.Add(w.added)
	return nil
}

func idsFailed(n int, err error) error {
	return fmt.Errorf("store.bolt: put %d ids: %w", n, err)
}

// appendFill is the FillPercent of a bucket that is being appended to.
const appendFill = 1.0

// fillFor returns the FillPercent for a bucket that gets n keys, after of
// which sort after its last key: full pages when most do (the provider's
// ids ascend, and id_exp keys ascend with time), so that appends leave
// full pages behind them; bbolt's default otherwise, which leaves room in
// split pages for keys that land between others. A bucket's FillPercent
// counts at commit, for all of the transaction's writes to it: the last
// write of a shared transaction decides, which affects how full pages are
// packed, nothing else.
func fillFor(after, n int) float64 {
	if 10*after >= 9*n {
		return appendFill
	}
	return bbolt.DefaultFillPercent
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

// LookupIDs implements store.IDBatchLookup: every id in one read
// transaction. An id past its expiry is not found, even before the sweep
// removes it.
func (s *Store) LookupIDs(ctx context.Context, ids []string) (clients []string, found []bool, err error) {
	if err := s.acquire(ctx); err != nil {
		return nil, nil, err
	}
	defer s.release()
	clients, found = make([]string, len(ids)), make([]bool, len(ids))
	if len(ids) == 0 {
		return clients, found, nil
	}
	now := time.Now().UnixNano()
	err = s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketIDs)
		var (
			key   []byte
			names map[string]string // one string per client, not per id
		)
		for i, id := range ids {
			key = append(key[:0], id...)
			v := b.Get(key)
			if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= now {
				continue
			}
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
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store.bolt: lookup %d ids: %w", len(ids), err)
	}
	return clients, found, nil
}

// unixNano is t in unix nanoseconds, clamped to the range a key can sort
// (times before 1970 sort first; the zero Time is long expired).
func unixNano(t time.Time) int64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return t.UnixNano()
}

// expireIDs removes ids whose expiry is before now, up to limit of them,
// in one transaction: first those brought forward by ExpireIDs (id_final),
// then those past their own expiry (id_exp). It returns how many it
// removed and whether more may be due.
func (s *Store) expireIDs(now time.Time, limit int) (n int, more bool, err error) {
	cut := unixNano(now)
	err = s.db.Update(func(tx *bbolt.Tx) error {
		n, more = 0, false
		b := idBuckets{tx.Bucket(bucketIDs), tx.Bucket(bucketIDExp), tx.Bucket(bucketHistory)}
		fin := tx.Bucket(bucketIDFinal)
		var due []dueKey
		due, more = dueKeys(fin, cut, limit)
		for _, d := range due {
			if err := fin.Delete(d.k); err != nil {
				return err
			}
			// Only the record brought forward (a record put again since
			// has another expiry); d.v is its old expiry, the one of its
			// id_exp key.
			ok, err := b.remove(d.k[8:], d.k[:8], d.v)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		if more {
			return nil
		}
		due, more = dueKeys(b.exp, cut, limit-len(due))
		for _, d := range due {
			if err := b.exp.Delete(d.k); err != nil {
				return err
			}
			// Only the record this index key was written for: PutIDs
			// removes stale keys, but be safe against an older file.
			ok, err := b.remove(d.k[8:], d.k[:8], d.k[:8])
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, more, err
}

// dueKey is a copy of an index key (expiry (8) + id) and its value.
type dueKey struct{ k, v []byte }

// dueKeys returns copies of the keys of an expiry index (id_exp or
// id_final) at or before cut, at most limit of them, and whether more
// are due.
func dueKeys(idx *bbolt.Bucket, cut int64, limit int) (due []dueKey, more bool) {
	c := idx.Cursor()
	for k, v := c.First(); len(k) >= 8; k, v = c.Next() {
		if int64(binary.BigEndian.Uint64(k)) > cut {
			break
		}
		if len(due) >= limit {
			return due, true
		}
		due = append(due, dueKey{slices.Clone(k), slices.Clone(v)})
	}
	return due, false
}

// idBuckets are the buckets an id's removal changes.
type idBuckets struct{ ids, exp, hist *bbolt.Bucket }

// remove deletes id's record, its id_exp key (at idxExp) and its
// history, if its record's expiry is exp; it reports whether it did.
// Both expiries are 8 bytes, as in keys.
func (b idBuckets) remove(id, exp, idxExp []byte) (bool, error) {
	v := b.ids.Get(id)
	if len(v) < 8 || len(exp) != 8 || len(idxExp) != 8 || !bytes.Equal(v[:8], exp) {
		return false, nil
	}
	if err := b.ids.Delete(id); err != nil {
		return false, err
	}
	ek := append(slices.Clone(idxExp), id...)
	if err := b.exp.Delete(ek); err != nil {
		return false, err
	}
	return true, b.hist.Delete(id)
}

// ExpireIDs implements store.IDExpirer. The ids are only queued, like
// acknowledgements and history events: they ride along in the next
// commit of other writes (or are committed within ackLinger by the store
// itself), where each id the store holds with a later expiry gets its
// record rewritten with the earlier expiry and one key appended to the
// id_final index (at + id -> the record's old expiry); its id_exp key
// stays, for the sweep to drop. LookupID does not find the id past at,
// and the sweep removes it. An id that expires before at already, or that
// the store does not hold, is left alone. A crash before the commit loses
// the shortening, which only leaves the ids their longer expiry.
func (s *Store) ExpireIDs(ctx context.Context, ids []string, at time.Time) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if len(ids) == 0 {
		return nil
	}
	s.mu.Lock()
	s.queueRiderLocked()
	s.finals = append(s.finals, finalBatch{ids: slices.Clone(ids), at: unixNano(at)})
	s.mu.Unlock()
	s.wakeAckLoop()
	return nil
}

// finalBatch is one ExpireIDs call, queued for the next commit.
type finalBatch struct {
	ids []string
	at  int64 // unix ns
}

// writeFinals brings the expiry of the batches' ids forward in tx: per
// id one lookup and one rewrite of its record, and one put at the end of
// id_final (at ascends with time). Its id_exp key is left for the sweep,
// which drops a key whose record has another expiry: a delete there would
// touch a page that no other write of this commit needs.
func writeFinals(tx *bbolt.Tx, batches []finalBatch) error {
	ids, fin := tx.Bucket(bucketIDs), tx.Bucket(bucketIDFinal)
	fin.FillPercent = appendFill
	var key, fk []byte
	for _, fb := range batches {
		var vals []byte // the values, which bbolt keeps until the commit
		for _, id := range fb.ids {
			if id == "" {
				continue
			}
			key = append(key[:0], id...)
			v := ids.Get(key)
			if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= fb.at {
				continue
			}
			start := len(vals)
			vals = append(vals, v[:8]...) // the old expiry, for id_final
			vals = binary.BigEndian.AppendUint64(vals, uint64(fb.at))
			vals = append(vals, v[8:]...) // v is only valid until the next write
			old, rec := vals[start:start+8:start+8], vals[start+8:len(vals):len(vals)]
			if err := ids.Put(key, rec); err != nil {
				return err
			}
			fk = appendExpKey(fk[:0], fb.at, id)
			if err := fin.Put(fk, old); err != nil {
				return err
			}
		}
	}
	return nil
}
