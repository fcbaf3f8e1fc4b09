package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/store"
)

// AddEvents implements store.History: per id, in one pipeline, RPUSH of
// its events (in the form of store.AppendEvent) to a list, LTRIM to the
// latest store.MaxHistory and PEXPIREAT at the latest of their Expires.
// Every command names one key, so a cluster takes the pipeline as it is.
// Events without an expiry are kept for the default dlr_ttl (72h).
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
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, id := range order {
			g, k := byID[id], s.keys.history(id)
			p.RPush(ctx, k, g.vals...)
			p.LTrim(ctx, k, -store.MaxHistory, -1)
			p.PExpireAt(ctx, k, g.exp)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.redis: add %d history events: %w", len(events), err)
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
