package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// staleConsumer is how long a consumer with nothing pending may stay idle
// in a group before the sweep deletes it: every start of an instance adds
// a consumer name, and names of instances long gone would pile up.
const staleConsumer = 24 * time.Hour

// sweepResult is what one sweep removed, per client.
type sweepResult struct {
	retention map[string]int // entries past retention (the sweep's and Fetch's)
	capped    map[string]int // entries beyond the queue cap
}

// sweepLoop sweeps every limits.Sweep until ctx is done or Close is
// called. Every instance sweeps; trimming is idempotent, and each counts
// what its own trims removed.
func (s *Store) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.limits.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
			s.sweepOnce(ctx)
		}
	}
}

// stopping reports whether Close has begun.
func (s *Store) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// sweepOnce sweeps, counts what it removed and logs it once: one Warn for
// dropped entries; one Warn when sweeping starts failing (Redis cannot be
// reached) and one Info when it works again, not a line per tick.
func (s *Store) sweepOnce(ctx context.Context) {
	s.releaseAllStranded(ctx)
	res, err := s.sweep(ctx)
	switch {
	case err != nil && (ctx.Err() != nil || s.stopping()):
	case err != nil && !s.sweepFailing:
		s.sweepFailing = true
		s.log.Warn("sweep failed; it is retried every sweep interval", zap.Error(err), zap.Object("redis", s),
			zap.Duration("sweep", s.limits.Sweep))
	case err != nil:
		if ce := s.log.Check(zap.DebugLevel, "sweep failed again"); ce != nil {
			ce.Write(zap.Error(err))
		}
	case s.sweepFailing:
		s.sweepFailing = false
		s.log.Info("sweep works again", zap.Object("redis", s))
	}
	s.dropMu.Lock()
	for c, n := range s.drops {
		res.retention[c] += n
	}
	clear(s.drops)
	s.dropMu.Unlock()
	var ret, capped int
	for _, n := range res.retention {
		ret += n
	}
	for _, n := range res.capped {
		capped += n
	}
	if ret+capped == 0 {
		return
	}
	fields := []zap.Field{
		zap.Int("past_retention", ret), zap.Duration("retention", s.limits.Retention),
		zap.Int("beyond_queue_cap", capped), zap.Int("queue_cap", s.limits.QueueCap),
	}
	if ret > 0 {
		fields = append(fields, zap.Any("past_retention_by_client", res.retention))
	}
	if capped > 0 {
		fields = append(fields, zap.Any("beyond_queue_cap_by_client", res.capped))
	}
	s.log.Warn("dropped queued entries nobody fetched", fields...)
}

// sweep trims every client's queue: XTRIM MINID (retention, by the Redis
// clock, as stream ids are) then XTRIM MAXLEN (the cap, exact), in one
// pipeline. It counts what the replies say was removed, so a sweep that
// fails part way still counts its part.
func (s *Store) sweep(ctx context.Context) (sweepResult, error) {
	res := sweepResult{retention: map[string]int{}, capped: map[string]int{}}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	now, err := s.rdb.Time(rctx).Result()
	if err != nil {
		return res, fmt.Errorf("time: %w", err)
	}
	if known := s.known.all(); len(known) > 0 { // in case the set was lost
		if err := s.rdb.SAdd(rctx, s.keys.clients(), known...).Err(); err != nil {
			return res, fmt.Errorf("clients: %w", err)
		}
	}
	clients, err := s.rdb.SMembers(rctx, s.keys.clients()).Result()
	if err != nil {
		return res, fmt.Errorf("clients: %w", err)
	}
	minID := strconv.FormatInt(now.Add(-s.limits.Retention).UnixMilli(), 10)
	for start := 0; start < len(clients) && !s.stopping(); start += sweepChunk {
		chunk := clients[start:min(start+sweepChunk, len(clients))]
		if err := s.trim(ctx, chunk, minID, res); err != nil {
			return res, err
		}
		if err := s.forgetConsumers(ctx, chunk); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sweepChunk bounds the clients one sweep pipeline handles.
const sweepChunk = 500

// trim trims the queues of clients and adds what it removed to res.
func (s *Store) trim(ctx context.Context, clients []string, minID string, res sweepResult) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ret := make([]*goredis.IntCmd, len(clients))
	capped := make([]*goredis.IntCmd, len(clients))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range clients {
			ret[i] = p.XTrimMinID(ctx, s.keys.queue(c), minID)
			capped[i] = p.XTrimMaxLen(ctx, s.keys.queue(c), int64(s.limits.QueueCap))
		}
		return nil
	})
	for i, c := range clients {
		if n := ret[i].Val(); n > 0 {
			res.retention[c] += int(n)
			s.dropped.Add(uint64(n))
		}
		if n := capped[i].Val(); n > 0 {
			res.capped[c] += int(n)
			s.dropped.Add(uint64(n))
		}
	}
	if err != nil {
		return fmt.Errorf("trim queues: %w", err)
	}
	return nil
}

// forgetConsumers deletes, from the clients' groups, consumers of other
// instances that hold nothing and were idle for staleConsumer.
func (s *Store) forgetConsumers(ctx context.Context, clients []string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	infos := make([]*goredis.XInfoConsumersCmd, len(clients))
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range clients {
			infos[i] = p.XInfoConsumers(ctx, s.keys.queue(c), group)
		}
		return nil
	})
	for _, cmd := range infos {
		if err := cmd.Err(); err != nil && !isNoGroup(err) {
			return fmt.Errorf("list consumers: %w", err)
		}
	}
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range clients {
			for _, ci := range infos[i].Val() {
				if ci.Name != s.consumer && ci.Pending == 0 && ci.Idle >= staleConsumer {
					p.XGroupDelConsumer(ctx, s.keys.queue(c), group, ci.Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete stale consumers: %w", err)
	}
	return nil
}

// isNoGroup tells the error of a queue that has no group yet (nobody
// fetched from it) or no stream: nothing to clean there.
func isNoGroup(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "NOGROUP") || strings.HasPrefix(msg, "ERR no such key")
}
