package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// enqueueLeasedScript is enqueueScript for a batch with items to lease
// to this instance's consumer, as if its Fetch had returned them. It
// leases only when the group has read every entry of the queue (none
// waits for a Fetch, the group's last delivered id is at or past the
// last entry): then, after adding the items, one XREADGROUP ">" claims
// exactly them, and each gets its lease end in the leases set: the
// lease for the items to lease, 0 (fetchable at once, by any instance)
// for the others. Otherwise every item is added unleased, as
// enqueueScript adds it, and no id is returned. A queue without a group
// gets one (at 0: the queue is empty). The wake-up is published when an
// item was added unleased.
//
// KEYS: queue stream, leases zset, then the seen key of each report.
// ARGV: dedup TTL ms, wake channel, wake message, group, consumer, lease
// ms, then per item: kind, frame, index in KEYS of its seen key (0 for
// an MO), 1 to lease it or 0. Returns the leased items' entry ids, ""
// for the others.
var enqueueLeasedScript = goredis.NewScript(`
local q, l, ttl = KEYS[1], KEYS[2], ARGV[1]
local group, consumer, lease = ARGV[4], ARGV[5], tonumber(ARGV[6])
` + olderLua + `
local caught = false
if redis.call('EXISTS', q) == 0 then
  redis.call('XGROUP', 'CREATE', q, group, '0', 'MKSTREAM')
  caught = true
else
  local groups = redis.call('XINFO', 'GROUPS', q)
  for _, g in ipairs(groups) do
    local name, delivered
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] end
      if g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
    if name == group then
      local last = redis.call('XREVRANGE', q, '+', '-', 'COUNT', 1)
      caught = #last == 0 or not older(delivered, last[1][1])
    end
  end
end
local ids, leased, added, free = {}, {}, 0, 0
for i = 7, #ARGV, 4 do
  local seen = tonumber(ARGV[i + 2])
  local id = ''
  if seen == 0 or redis.call('SET', KEYS[seen], '1', 'NX', 'PX', ttl) then
    local e = redis.call('XADD', q, '*', 'k', ARGV[i], 'f', ARGV[i + 1])
    added = added + 1
    if caught and ARGV[i + 3] == '1' then
      id = e
      leased[e] = true
    else
      free = free + 1
    end
  end
  ids[#ids + 1] = id
end
if caught and added > 0 then
  local t = redis.call('TIME')
  local til = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + lease)
  local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', added, 'STREAMS', q, '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      if leased[e[1]] then
        redis.call('ZADD', l, til, e[1])
      else
        redis.call('ZADD', l, 0, e[1])
      end
    end
  end
end
if free > 0 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return ids
`)

// EnqueueLeased implements store.LeasedEnqueuer: Enqueue, with the
// clients that have items to lease written by enqueueLeasedScript, in the
// same pipeline. An item is leased only when its client's queue has no
// entry waiting for a Fetch (see enqueueLeasedScript): else its id is ""
// and it waits in the queue like the others.
func (s *Store) EnqueueLeased(ctx context.Context, items []store.Item, leased []bool, lease time.Duration) ([]string, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(cancel)
	if len(items) == 0 {
		return nil, nil
	}
	type clientCall struct {
		call  *scriptCall
		items []int // indices in items
		lease bool
	}
	var (
		order []string
		by    = make(map[string]*clientCall, 1)
	)
	for i, it := range items {
		if by[it.Client] == nil {
			by[it.Client] = &clientCall{}
			order = append(order, it.Client)
		}
		c := by[it.Client]
		c.items = append(c.items, i)
		c.lease = c.lease || leased[i]
	}
	calls := make([]*scriptCall, len(order))
	for k, client := range order {
		c := by[client]
		sc := &scriptCall{script: enqueueScript, keys: []string{s.keys.queue(client)}, args: []any{dedupTTL.Milliseconds(), s.keys.wake(), s.wakeMessage(client)}}
		if c.lease {
			sc.script = enqueueLeasedScript
			sc.keys = append(sc.keys, s.keys.leases(client))
			sc.args = append(sc.args, group, s.consumer, max64(lease.Milliseconds(), 1))
		}
		for _, i := range c.items {
			it := items[i]
			seen := 0
			if it.Kind == store.KindReport {
				sc.keys = append(sc.keys, s.keys.seen(client, reportSum(it.Frame)))
				seen = len(sc.keys)
			}
			sc.args = append(sc.args, strconv.Itoa(int(it.Kind)), it.Frame, seen)
			if c.lease {
				sc.args = append(sc.args, boolArg(leased[i]))
			}
		}
		c.call, calls[k] = sc, sc
	}
	add := s.known.missing(order)
	var sadd *goredis.IntCmd
	s.leasing.RLock()
	defer s.leasing.RUnlock()
	start := time.Now()
	s.runScripts(ctx, calls, func(p goredis.Pipeliner) {
		if len(add) > 0 {
			sadd = p.SAdd(ctx, s.keys.clients(), add...)
		}
	})
	if sadd != nil && sadd.Err() == nil {
		s.known.add(add)
	}
	ids := make([]string, len(items))
	var firstErr error
	handed := map[string][]string{} // client -> entries leased to this instance
	for _, client := range order {
		c := by[client]
		if err := c.call.cmd.Err(); err != nil {
			if c.lease {
				s.handouts.failed(client) // Redis may have leased them: see handouts
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !c.lease {
			continue
		}
		got, err := c.call.cmd.StringSlice()
		if err != nil || len(got) != len(c.items) {
			s.handouts.failed(client)
			if firstErr == nil {
				firstErr = fmt.Errorf("reply %v: %w", got, err)
			}
			continue
		}
		var out []string
		for k, i := range c.items {
			if ids[i] = got[k]; got[k] != "" {
				out = append(out, got[k])
			}
		}
		s.handouts.handed(client, out, start.Add(lease))
		if len(out) > 0 {
			handed[client] = out
		}
	}
	if firstErr != nil {
		s.releaseHanded(ctx, handed)
		return nil, fmt.Errorf("store.redis: enqueue %d items: %w", len(items), firstErr)
	}
	if sadd != nil && sadd.Err() != nil {
		return nil, fmt.Errorf("store.redis: enqueue %d items: clients set: %w", len(items), sadd.Err())
	}
	return ids, nil
}

// releaseHanded releases entries an EnqueueLeased that failed for other
// clients leased to this instance: the caller sees only the failure and
// hands them to no one, and would else leave them until their lease ran
// out. Released, they wait in their queues for a Fetch, as unleased
// entries do; their stores' wake-up (the release publishes none) is the
// dispatchers' poll. When the release fails too, the leases run out.
func (s *Store) releaseHanded(ctx context.Context, handed map[string][]string) {
	for client, ids := range handed {
		if err := s.releaseEntries(ctx, client, ids); err != nil {
			s.log.Warn("cannot release entries a failed enqueue leased; their leases run out", zap.String("client", client), zap.Int("entries", len(ids)), zap.Error(err))
		}
	}
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var _ store.LeasedEnqueuer = (*Store)(nil)
