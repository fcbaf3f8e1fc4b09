package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// errEmptyID rejects a record no report could ever be matched to.
var errEmptyID = errors.New("empty message id")

// errNULClient rejects a client the id key's value could not tell from
// its history (see history.go); an SMPP system_id, a C-Octet String,
// holds no 0x00.
var errNULClient = errors.New("client system_id holds a 0x00 byte")

// PutIDs implements store.Store: one SET key client PXAT expiry GET per
// record, in one pipeline; Redis removes each key at its expiry. A record
// already past its expiry deletes the id instead. It returns after Redis
// acknowledged every write. A record for an id already held replaces it,
// but keeps its history (see history.go): the SET's GET returns the value
// it replaced, and when that held events they are appended again, in a
// second round trip. An id is put again after the mux journaled it on an
// error of a PutIDs whose SET had in fact been done, and its receipts
// have been traced meanwhile; without this the new SET would drop them.
// An event added between the SET and the append of the old ones comes
// before them.
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
		if strings.IndexByte(r.Client, frameMark) >= 0 {
			return fmt.Errorf("store.redis: put %d ids: %w", len(recs), errNULClient)
		}
	}
	now := time.Now()
	sets := make([]*goredis.Cmd, len(recs))
	cmds, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, r := range recs {
			k := s.keys.id(r.ID)
			if !r.Expires.After(now.Add(time.Millisecond)) {
				p.Del(ctx, k)
				continue
			}
			// PXAT always: SetArgs would send EXAT (whole seconds)
			// for an expiry on a second boundary; both are fine, one
			// form is easier to read in MONITOR.
			sets[i] = p.Do(ctx, "set", k, r.Client, "pxat", r.Expires.UnixMilli(), "get")
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("store.redis: put %d ids: %w", len(recs), err)
	}
	for _, c := range cmds { // a SET's GET answers nil for a new id
		if err := c.Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return fmt.Errorf("store.redis: put %d ids: %w", len(recs), err)
		}
	}
	var kept []string
	var frames [][]byte
	for i, c := range sets {
		if c == nil {
			continue
		}
		if old, ok := c.Val().(string); ok && framesOf(old) != "" {
			kept = append(kept, recs[i].ID)
			frames = append(frames, []byte(framesOf(old)))
		}
	}
	s.ids.add(recs, now)
	if len(kept) > 0 {
		if err := s.appendFrames(ctx, kept, frames); err != nil {
			s.log.Warn("ids put again lost their history", zap.Int("ids", len(kept)), zap.Error(err))
		}
	}
	return nil
}

// idCount counts the ids this instance stored that have not expired, by
// minute of expiry, for Stats: counting the ids of every instance would
// take a SCAN of the whole keyspace (on every node of a cluster).
type idCount struct {
	mu    sync.Mutex
	byMin map[int64]int // expiry rounded up to the minute (Unix minutes) -> ids; guarded by mu
}

func (c *idCount) add(recs []store.IDRecord, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byMin == nil {
		c.byMin = make(map[int64]int)
	}
	for _, r := range recs {
		if r.Expires.After(now.Add(time.Millisecond)) {
			c.byMin[(r.Expires.Unix()+59)/60]++
		}
	}
}

// live returns the ids not expired at now (those expiring within the
// minute may count still), and forgets the rest.
func (c *idCount) live(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, min := 0, now.Unix()/60
	for m, k := range c.byMin {
		if m <= min {
			delete(c.byMin, m)
			continue
		}
		n += k
	}
	return n
}

// LookupID implements store.Store: one GET, of which the client is what
// comes before the history (see clientOf). Redis expires ids itself, so
// an id past its expiry is not found.
func (s *Store) LookupID(ctx context.Context, id string) (client string, ok bool, err error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return "", false, err
	}
	defer s.release(cancel)
	v, err := s.rdb.Get(ctx, s.keys.id(id)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store.redis: lookup id: %w", err)
	}
	return clientOf(v), true, nil
}

// LookupIDs implements store.IDBatchLookup, in one pipeline (one round
// trip): on one server one MGET per batchKeys ids; on a cluster one GET
// per id, as an MGET's keys would have to share a slot. Each value is cut
// before its history (see clientOf).
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
	per := s.keysPerCall()
	cmds := make([]goredis.Cmder, 0, (len(ids)+per-1)/per)
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i := 0; i < len(ids); i += per {
			chunk := ids[i:min(i+per, len(ids))]
			if per == 1 {
				cmds = append(cmds, p.Get(ctx, s.keys.id(chunk[0])))
				continue
			}
			keys := make([]string, len(chunk))
			for j, id := range chunk {
				keys[j] = s.keys.id(id)
			}
			cmds = append(cmds, p.MGet(ctx, keys...))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, nil, fmt.Errorf("store.redis: lookup %d ids: %w", len(ids), err)
	}
	for n, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return nil, nil, fmt.Errorf("store.redis: lookup %d ids: %w", len(ids), err)
		}
		switch c := c.(type) {
		case *goredis.StringCmd:
			if c.Err() == nil {
				clients[n], found[n] = clientOf(c.Val()), true
			}
		case *goredis.SliceCmd:
			for j, v := range c.Val() {
				if v, ok := v.(string); ok {
					clients[n*per+j], found[n*per+j] = clientOf(v), true
				}
			}
		}
	}
	return clients, found, nil
}

// Stats implements store.Store. Queue depths are XLEN of every client in
// the clients set (leased entries included), the same on every instance.
// IDs is what this instance stored and has not expired yet (to the
// minute; an id stored twice counts twice), not what the others stored:
// nothing counts keys of one kind across a cluster without a SCAN of
// every node. Dropped is what this instance removed; Expired is always 0,
// as Redis expires ids itself without telling.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	defer s.release(cancel)
	st := store.Stats{Queued: make(map[string]int), Dropped: s.dropped.Load(), IDs: s.ids.live(time.Now())}
	clients, err := s.rdb.SMembers(ctx, s.keys.clients()).Result()
	if err != nil {
		return store.Stats{}, fmt.Errorf("store.redis: stats: clients: %w", err)
	}
	if len(clients) == 0 {
		return st, nil
	}
	lens := make([]*goredis.IntCmd, len(clients))
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range clients {
			lens[i] = p.XLen(ctx, s.keys.queue(c))
		}
		return nil
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("store.redis: stats: %w", err)
	}
	for i, c := range clients {
		if n := lens[i].Val(); n > 0 {
			st.Queued[c] = int(n)
		}
	}
	return st, nil
}

// expireScript brings the expiry of ids forward: PEXPIREAT of every key,
// with LT when ARGV[2] is "1" (Redis 7 and later).
//
// KEYS: the ids' keys. ARGV: expiry (Unix ms), "1" for LT or "0".
var expireScript = goredis.NewScript(`
for i = 1, #KEYS do
  if ARGV[2] == '1' then
    redis.call('PEXPIREAT', KEYS[i], ARGV[1], 'LT')
  else
    redis.call('PEXPIREAT', KEYS[i], ARGV[1])
  end
end
return 0
`)

// ExpireIDs implements store.IDExpirer: PEXPIREAT of every id, in
// expireScript, one call for the whole batch (up to batchKeys ids a
// call) on one server; on a cluster, where each id is its own key in its
// own slot, one PEXPIREAT per id; in one pipeline either way. On Redis 7
// and later with LT, so that an expiry is only ever brought forward; on
// 6.2, which has no LT, an id whose expiry was already before at gets
// at: later by at most final_ttl, and only for receipts that came near
// the end of dlr_ttl. A missing id is left alone (PEXPIREAT on a missing
// key does nothing). Stats.IDs still counts a shortened id until its
// first expiry.
func (s *Store) ExpireIDs(ctx context.Context, ids []string, at time.Time) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	ms := at.UnixMilli()
	lt := "0"
	if s.expireLT {
		lt = "1"
	}
	var calls []*scriptCall
	var each []string // cluster: one PEXPIREAT per id
	for _, id := range ids {
		if id == "" {
			continue
		}
		if s.keysPerCall() == 1 {
			each = append(each, s.keys.id(id))
			continue
		}
		if len(calls) == 0 || len(calls[len(calls)-1].keys) == batchKeys {
			calls = append(calls, &scriptCall{script: expireScript, args: []any{ms, lt}})
		}
		c := calls[len(calls)-1]
		c.keys = append(c.keys, s.keys.id(id))
	}
	if len(calls) == 0 && len(each) == 0 {
		return nil
	}
	var cmds []*goredis.Cmd
	s.runScripts(ctx, calls, func(p goredis.Pipeliner) {
		for _, k := range each {
			if s.expireLT {
				cmds = append(cmds, p.Do(ctx, "pexpireat", k, ms, "lt"))
			} else {
				cmds = append(cmds, p.Do(ctx, "pexpireat", k, ms))
			}
		}
	})
	for _, c := range calls {
		cmds = append(cmds, c.cmd)
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return fmt.Errorf("store.redis: expire %d ids: %w", len(ids), err)
		}
	}
	return nil
}
