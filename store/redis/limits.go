package redis

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/store"
)

// Fleet-wide limits (store.FleetLimiter). Each semaphore and each bucket
// is one key whose name is its hash tag, so it lives in one cluster slot
// and every call touches one key:
//
//	<prefix>:sem:{<key>}        sorted set: slot id -> expiry (Redis clock, ms)
//	rate:<prefix>:gcra:{<key>}  string: the GCRA bucket's theoretical arrival time (redis_rate's own "rate:" first)
//
// A semaphore's expired slots are removed by the next AcquireSlot; the
// key itself expires with its last slot. A bucket expires once full again.

// acquireScript takes a slot of a semaphore if it has room, dropping
// expired slots first, by the Redis clock so instances with skewed
// clocks agree.
//
// KEYS: the semaphore. ARGV: slot id, limit, ttl ms. Returns 1 when the
// slot is held, 0 when the semaphore is full.
var acquireScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
	return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
`)

// renewScript sets the expiry of slots of one semaphore to ttl from now,
// adding back those that expired: a slot is never taken from a live
// holder.
//
// KEYS: the semaphore. ARGV: ttl ms, then the slot ids.
var renewScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = now + tonumber(ARGV[1])
for i = 2, #ARGV do
	redis.call('ZADD', KEYS[1], at, ARGV[i])
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
`)

func (k keys) semaphore(key string) string { return k.prefix + ":sem:{" + key + "}" }
func (k keys) bucket(key string) string    { return k.prefix + ":gcra:{" + key + "}" }

// AcquireSlot implements store.FleetLimiter: one script call.
func (s *Store) AcquireSlot(ctx context.Context, l store.Lease, limit int, ttl time.Duration) (bool, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer s.release(cancel)
	n, err := acquireScript.Run(ctx, s.rdb, []string{s.keys.semaphore(l.Key)}, l.ID, limit, ttlMS(ttl)).Int()
	if err != nil {
		return false, fmt.Errorf("store.redis: acquire a slot of %s: %w", l.Key, err)
	}
	return n == 1, nil
}

// RenewSlots implements store.FleetLimiter: one script call per
// semaphore, in one pipeline (in a cluster, one per node).
func (s *Store) RenewSlots(ctx context.Context, ls []store.Lease, ttl time.Duration) error {
	if len(ls) == 0 {
		return nil
	}
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	byKey := make(map[string]*scriptCall)
	var calls []*scriptCall
	for _, l := range ls {
		c := byKey[l.Key]
		if c == nil {
			c = &scriptCall{script: renewScript, keys: []string{s.keys.semaphore(l.Key)}, args: []any{ttlMS(ttl)}}
			byKey[l.Key] = c
			calls = append(calls, c)
		}
		c.args = append(c.args, l.ID)
	}
	s.runScripts(ctx, calls, nil)
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			return fmt.Errorf("store.redis: renew slots of %d semaphores (%s failed): %w", len(calls), c.keys[0], err)
		}
	}
	return nil
}

// ReleaseSlots implements store.FleetLimiter: one ZREM per slot, in one
// pipeline.
func (s *Store) ReleaseSlots(ctx context.Context, ls []store.Lease) error {
	if len(ls) == 0 {
		return nil
	}
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	cmds, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, l := range ls {
			p.ZRem(ctx, s.keys.semaphore(l.Key), l.ID)
		}
		return nil
	})
	if err != nil {
		for i, c := range cmds {
			if c.Err() != nil {
				err = fmt.Errorf("store.redis: release %d slots (%s first failed): %w", len(ls), ls[i].Key, c.Err())
				break
			}
		}
	}
	return err
}

// TakeTokens implements store.FleetLimiter with redis_rate's GCRA
// (AllowAtMost): one script call on one key.
func (s *Store) TakeTokens(ctx context.Context, key string, rate float64, burst, n int) (int, time.Duration, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer s.release(cancel)
	res, err := redis_rate.NewLimiter(s.rdb).AllowAtMost(ctx, s.keys.bucket(key), gcraLimit(rate, burst), n)
	if err != nil {
		return 0, 0, fmt.Errorf("store.redis: take tokens of %s: %w", key, err)
	}
	return res.Allowed, max(0, res.RetryAfter), nil
}

// gcraLimit expresses rate per second as redis_rate's whole events per
// period: per second when rate is whole, else per 1000 s (so 2.5/s is
// 2500 per 1000 s). Rates under 0.001/s count as 0.001/s.
func gcraLimit(rate float64, burst int) redis_rate.Limit {
	if rate >= 1 && rate == math.Trunc(rate) && rate < math.MaxInt32 {
		return redis_rate.Limit{Rate: int(rate), Burst: burst, Period: time.Second}
	}
	return redis_rate.Limit{Rate: max(1, int(math.Round(rate*1000))), Burst: burst, Period: 1000 * time.Second}
}

// ttlMS is ttl in whole milliseconds, at least 1.
func ttlMS(ttl time.Duration) int64 { return max(1, ttl.Milliseconds()) }

var _ store.FleetLimiter = (*Store)(nil)
