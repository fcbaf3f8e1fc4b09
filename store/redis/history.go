package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/store"
)

// historyScript appends events to the traces of several ids: per key,
// RPUSH of its events, LTRIM to the latest max when the list grew past
// it, and PEXPIREAT.
//
// KEYS: the ids' history lists. ARGV: max, then per key: expiry (Unix
// ms), the number n of its events, its n events.
var historyScript = goredis.NewScript(`
local max, a = tonumber(ARGV[1]), 2
for i = 1, #KEYS do
  local n = tonumber(ARGV[a + 1])
  if redis.call('RPUSH', KEYS[i], unpack(ARGV, a + 2, a + 1 + n)) > max then
    redis.call('LTRIM', KEYS[i], -max, -1)
  end
  redis.call('PEXPIREAT', KEYS[i], ARGV[a])
  a = a + 2 + n
end
return 0
`)

// AddEvents implements store.History: per id, RPUSH of its events (in
// the form of store.AppendEvent) to a list, LTRIM to the latest
// store.MaxHistory when it holds more, and PEXPIREAT at the latest of their Expires, in
// historyScript: one call for the whole batch (up to batchKeys ids a
// call) on one server, one call per id on a cluster, whose ids sit in
// slots of their own; all in one pipeline. Events without an expiry are
// kept for the default dlr_ttl (72h).
func (s *Store) AddEvents(ctx context.Context, events []store.Event) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	if len(events) == 0 {
		return nil
	}
	type group struct {
		vals []any
		exp  time.Time
	}
	byID := make(map[string]*group)
	var order []string
	for _, e := range events {
		g := byID[e.ID]
		if g == nil {
			g = &group{}
			byID[e.ID] = g
			order = append(order, e.ID)
		}
		g.vals = append(g.vals, store.AppendEvent(nil, e))
		exp := e.Expires
		if exp.IsZero() {
			exp = e.At.Add(72 * time.Hour)
		}
		if exp.After(g.exp) {
			g.exp = exp
		}
	}
	var calls []*scriptCall
	for i, id := range order {
		if i%s.keysPerCall() == 0 {
			calls = append(calls, &scriptCall{script: historyScript, args: []any{store.MaxHistory}})
		}
		c, g := calls[len(calls)-1], byID[id]
		c.keys = append(c.keys, s.keys.history(id))
		c.args = append(c.args, g.exp.UnixMilli(), len(g.vals))
		c.args = append(c.args, g.vals...)
	}
	s.runScripts(ctx, calls, nil)
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			return fmt.Errorf("store.redis: add %d history events: %w", len(events), err)
		}
	}
	return nil
}

// History implements store.History: one LRANGE.
func (s *Store) History(ctx context.Context, id string) ([]store.Event, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(cancel)
	vals, err := s.rdb.LRange(ctx, s.keys.history(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("store.redis: history of %s: %w", id, err)
	}
	out := make([]store.Event, 0, len(vals))
	for _, v := range vals {
		e, _, err := store.DecodeEvent([]byte(v), id)
		if err != nil {
			return nil, fmt.Errorf("store.redis: history of %s: %w", id, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Peek implements store.Peeker: one XRANGE of the client's stream, which
// holds the entries leased or not (acknowledged ones are deleted).
// Entries past retention that no Fetch trimmed yet are left out.
func (s *Store) Peek(ctx context.Context, client string, max int) ([]store.Entry, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(cancel)
	if max <= 0 {
		return nil, nil
	}
	msgs, err := s.rdb.XRangeN(ctx, s.keys.queue(client), "-", "+", int64(max)).Result()
	if err != nil {
		return nil, fmt.Errorf("store.redis: peek %s: %w", client, err)
	}
	now := time.Now()
	out := make([]store.Entry, 0, len(msgs))
	for _, m := range msgs {
		fields := make([]any, 0, 2*len(m.Values))
		for k, v := range m.Values {
			fields = append(fields, k, v)
		}
		e, err := parseEntry(m.ID, fields)
		if err != nil {
			return nil, fmt.Errorf("store.redis: peek %s: %w", client, err)
		}
		if now.Sub(e.Enqueued) > s.limits.Retention {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

var (
	_ store.History = (*Store)(nil)
	_ store.Peeker  = (*Store)(nil)
)
