package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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
	var added int64
	err := s.batch.do(func(tx *bbolt.Tx) error {
		added = 0
		ids, exp := tx.Bucket(bucketIDs), tx.Bucket(bucketIDExp)
		for _, r := range recs {
			if r.ID == "" {
				return errEmptyID
			}
			k := []byte(r.ID)
			if old := ids.Get(k); len(old) >= 8 {
				// The old expiry's index key would outlive the record it points to.
				if err := exp.Delete(expKey(int64(binary.BigEndian.Uint64(old)), r.ID)); err != nil {
					return err
				}
			} else {
				added++
			}
			if err := ids.Put(k, encodeID(r)); err != nil {
				return err
			}
			if err := exp.Put(expKey(unixNano(r.Expires), r.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.bolt: put %d ids: %w", len(recs), err)
	}
	s.ids.Add(added)
	return nil
}

// LookupID implements store.Store. An id past its expiry is not found,
// even before the sweep removes it.
func (s *Store) LookupID(ctx context.Context, id string) (client string, ok bool, err error) {
	if err := s.acquire(ctx); err != nil {
		return "", false, err
	}
	defer s.release()
	now := time.Now().UnixNano()
	err = s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketIDs).Get([]byte(id))
		if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= now {
			return nil
		}
		client, ok = string(v[8:]), true
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("store.bolt: lookup id: %w", err)
	}
	return client, ok, nil
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
// in one transaction. It returns how many it removed and whether more may
// be due.
func (s *Store) expireIDs(now time.Time, limit int) (n int, more bool, err error) {
	cut := unixNano(now)
	err = s.db.Update(func(tx *bbolt.Tx) error {
		n, more = 0, false
		ids, exp := tx.Bucket(bucketIDs), tx.Bucket(bucketIDExp)
		var due [][]byte
		c := exp.Cursor()
		for k, _ := c.First(); k != nil && len(k) >= 8; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k)) > cut {
				break
			}
			if len(due) == limit {
				more = true
				break
			}
			due = append(due, append([]byte(nil), k...))
		}
		for _, k := range due {
			if err := exp.Delete(k); err != nil {
				return err
			}
			id := k[8:]
			// Only the record this index key was written for: PutIDs
			// removes stale keys, but be safe against an older file.
			if v := ids.Get(id); len(v) >= 8 && binary.BigEndian.Uint64(v) == binary.BigEndian.Uint64(k) {
				if err := ids.Delete(id); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, more, err
}
