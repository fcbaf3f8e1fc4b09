package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/store"
)

// errEmptyID rejects a record no report could ever be matched to.
var errEmptyID = errors.New("empty message id")

// PutIDs implements store.Store: one SET key client PXAT expiry per
// record, in one pipeline; Redis removes each key at its expiry. A record
// already past its expiry deletes the id instead. It returns after Redis
// acknowledged every write. A record for an id already held replaces it.
func (s *Store) PutIDs(ctx context.Context, recs []store.IDRecord) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	if len(recs) == 0 {
		return nil
	}
	for _, r := range recs {
		if r.ID == "" {
			return fmt.Errorf("store.redis: put %d ids: %w", len(recs), errEmptyID)
		}
	}
	now := time.Now()
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, r := range recs {
			k := s.keys.id(r.ID)
			if !r.Expires.After(now.Add(time.Millisecond)) {
				p.Del(ctx, k)
				continue
			}
			// PXAT always: SetArgs would send EXAT (whole seconds)
			// for an expiry on a second boundary; both are fine, one
			// form is easier to read in MONITOR.
			p.Do(ctx, "set", k, r.Client, "pxat", r.Expires.UnixMilli())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.redis: put %d ids: %w", len(recs), err)
	}
	return nil
}

// LookupID implements store.Store. Redis expires ids itself, so an id
// past its expiry is not found.
func (s *Store) LookupID(ctx context.Context, id string) (client string, ok bool, err error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return "", false, err
	}
	defer s.release(cancel)
	client, err = s.rdb.Get(ctx, s.keys.id(id)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store.redis: lookup id: %w", err)
	}
	return client, true, nil
}

// LookupIDs implements store.IDBatchLookup: one GET per id, in one
// pipeline (one round trip; GETs rather than an MGET, whose keys would
// have to share a cluster slot).
func (s *Store) LookupIDs(ctx context.Context, ids []string) (clients []string, found []bool, err error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer s.release(cancel)
	clients, found = make([]string, len(ids)), make([]bool, len(ids))
	if len(ids) == 0 {
		return clients, found, nil
	}
	cmds := make([]*goredis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.keys.id(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, nil, fmt.Errorf("store.redis: lookup %d ids: %w", len(ids), err)
	}
	for i, c := range cmds {
		v, err := c.Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("store.redis: lookup %d ids: %w", len(ids), err)
		}
		clients[i], found[i] = v, true
	}
	return clients, found, nil
}

// Stats implements store.Store. Queue depths are XLEN of every client in
// the clients set (leased entries included); IDs is DBSIZE less those
// queue and lease keys, so other keys in the same database count too
// (approximate). Dropped is what this instance removed; Expired is
// always 0, as Redis expires ids itself without telling.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	defer s.release(cancel)
	st := store.Stats{Queued: make(map[string]int), Dropped: s.dropped.Load()}
	clients, err := s.rdb.SMembers(ctx, s.keys.clients()).Result()
	if err != nil {
		return store.Stats{}, fmt.Errorf("store.redis: stats: clients: %w", err)
	}
	var (
		lens   = make([]*goredis.IntCmd, len(clients))
		held   = make([]*goredis.IntCmd, len(clients)) // the client's keys that exist
		dbsize *goredis.IntCmd
	)
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range clients {
			lens[i] = p.XLen(ctx, s.keys.queue(c))
			held[i] = p.Exists(ctx, s.keys.queue(c), s.keys.leases(c)) // one slot: {client}
		}
		dbsize = p.DBSize(ctx)
		return nil
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("store.redis: stats: %w", err)
	}
	var other int64 // keys of the store that are not ids
	if len(clients) > 0 {
		other++ // the clients set
	}
	for i, c := range clients {
		if n := lens[i].Val(); n > 0 {
			st.Queued[c] = int(n)
		}
		other += held[i].Val()
	}
	st.IDs = int(max(dbsize.Val()-other, 0))
	return st, nil
}
