package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// Fields of a queue stream entry.
const (
	fieldKind  = "k" // store.Kind in decimal
	fieldFrame = "f" // the deliver_sm PDU as the provider sent it
)

// fetchScript leases up to max entries of one client's queue, atomically,
// so that two instances never lease one entry at once. It first trims
// entries past retention (XTRIM MINID: a stream id starts with its
// time in ms), then re-claims entries whose lease ended or was released
// (the leases sorted set: id -> lease end in Redis ms; released = 0),
// oldest first, then reads new entries (XREADGROUP ">"). Every entry it
// hands out is claimed by this consumer in the group's pending list and
// gets a lease end. Lease ends use the Redis clock (TIME), so instances
// with skewed clocks agree.
//
// KEYS: queue stream, leases zset. ARGV: group, consumer, max, lease ms,
// retention ms. Returns {trimmed, {{id, {field, value, ...}}, ...}}.
// enqueueOnceSrc adds a report to its client's stream unless the same
// report (KEYS[1], by a hash of its body) was added within ARGV[1] ms.
const enqueueOnceSrc = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', ARGV[2], ARGV[3], ARGV[4], ARGV[5])
end
return 0
`

// dedupTTL is how long a stored report is remembered against resends;
// the provider resends within minutes of a missed deliver_sm_resp.
const dedupTTL = 30 * time.Minute

// reportSum identifies a report by its body: the header, whose sequence
// number differs between the provider's sends, is left out.
func reportSum(frame []byte) string {
	body := frame
	if len(body) >= pdu.HeaderLen {
		body = body[pdu.HeaderLen:]
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:12])
}

var fetchScript = goredis.NewScript(`
local q, l = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local max, lease, retention = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', q) == 0 then
  redis.call('DEL', l)
  return {0, {}}
end
if #redis.call('XINFO', 'GROUPS', q) == 0 then
  redis.call('XGROUP', 'CREATE', q, group, '0')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local trimmed = 0
if now > retention then
  trimmed = redis.call('XTRIM', q, 'MINID', string.format('%d', now - retention))
end
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local out = {}
local til = string.format('%d', now + lease)
local due = redis.call('ZRANGEBYSCORE', l, '-inf', now)
table.sort(due, older)
for _, id in ipairs(due) do
  if #out >= max then break end
  local r = redis.call('XCLAIM', q, group, consumer, 0, id)
  if r[1] and r[1][2] then
    redis.call('ZADD', l, til, id)
    out[#out + 1] = r[1]
  else
    redis.call('ZREM', l, id)
    redis.call('XACK', q, group, id)
  end
end
if #out < max then
  local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - #out, 'STREAMS', q, '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      redis.call('ZADD', l, til, e[1])
      out[#out + 1] = e
    end
  end
end
return {trimmed, out}
`)

// releaseScript makes leased entries fetchable at once (lease end 0),
// but only those this consumer holds: a Release that comes after the
// lease ran out and another instance took the entry changes nothing.
//
// KEYS: queue stream, leases zset. ARGV: group, consumer, ids...
var releaseScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = 0
for i = 3, #ARGV do
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if type(p) == 'table' and not p.err and p[1] and p[1][2] == ARGV[2] then
    n = n + redis.call('ZADD', KEYS[2], 'XX', 'CH', 0, ARGV[i])
  end
end
return n
`)

// Enqueue implements store.Store: one XADD per item, and the clients
// added to the clients set, in one pipeline. It returns after Redis
// acknowledged every write; when some failed it returns an error, and
// the items that were written stay (delivery is at least once).
func (s *Store) Enqueue(ctx context.Context, items []store.Item) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	if len(items) == 0 {
		return nil
	}
	seen := make(map[string]bool, 1)
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, it := range items {
			if !seen[it.Client] {
				seen[it.Client] = true
				p.SAdd(ctx, s.keys.clients(), it.Client)
			}
			if it.Kind == store.KindReport {
				// Once per report: a write Redis applied but whose
				// answer was lost makes the mux refuse the report
				// (ESME_RX_T_APPN) and the provider resend it.
				p.Eval(ctx, enqueueOnceSrc, []string{s.keys.seen(it.Client, reportSum(it.Frame)), s.keys.queue(it.Client)},
					dedupTTL.Milliseconds(), fieldKind, strconv.Itoa(int(it.Kind)), fieldFrame, it.Frame)
				continue
			}
			p.XAdd(ctx, &goredis.XAddArgs{
				Stream: s.keys.queue(it.Client),
				Values: []any{fieldKind, strconv.Itoa(int(it.Kind)), fieldFrame, it.Frame},
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.redis: enqueue %d items: %w", len(items), err)
	}
	return nil
}

// Fetch implements store.Store; see fetchScript. Entries past retention
// are trimmed, not fetched, and counted as dropped.
func (s *Store) Fetch(ctx context.Context, client string, max int, lease time.Duration) ([]store.Entry, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(cancel)
	if max <= 0 {
		return nil, nil
	}
	res, err := fetchScript.Run(ctx, s.rdb,
		[]string{s.keys.queue(client), s.keys.leases(client)},
		group, s.consumer, max, max64(lease.Milliseconds(), 1), s.limits.Retention.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("store.redis: fetch %s: %w", client, err)
	}
	trimmed, out, err := parseFetch(res)
	if err != nil {
		return nil, fmt.Errorf("store.redis: fetch %s: %w", client, err)
	}
	if trimmed > 0 {
		s.dropped.Add(uint64(trimmed))
		s.dropMu.Lock()
		s.drops[client] += int(trimmed)
		s.dropMu.Unlock()
	}
	return out, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// parseFetch reads fetchScript's reply.
func parseFetch(res []any) (trimmed int64, out []store.Entry, err error) {
	if len(res) != 2 {
		return 0, nil, fmt.Errorf("unexpected reply of %d elements", len(res))
	}
	trimmed, _ = res[0].(int64)
	list, _ := res[1].([]any)
	out = make([]store.Entry, 0, len(list))
	for _, v := range list {
		e, ok := v.([]any)
		if !ok || len(e) != 2 {
			return trimmed, nil, fmt.Errorf("unexpected entry %T", v)
		}
		id, _ := e[0].(string)
		fields, _ := e[1].([]any)
		entry, err := parseEntry(id, fields)
		if err != nil {
			return trimmed, nil, err
		}
		out = append(out, entry)
	}
	return trimmed, out, nil
}

// parseEntry makes an Entry of a stream entry; its time is the id's.
func parseEntry(id string, fields []any) (store.Entry, error) {
	ms, ok := idMillis(id)
	if !ok {
		return store.Entry{}, fmt.Errorf("entry id %q is not a stream id", id)
	}
	e := store.Entry{ID: id, Enqueued: time.UnixMilli(ms), Frame: []byte{}}
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		switch k {
		case fieldKind:
			n, _ := strconv.Atoi(v)
			e.Kind = store.Kind(n)
		case fieldFrame:
			e.Frame = []byte(v)
		}
	}
	return e, nil
}

// idMillis returns the ms part of a stream id "ms-seq"; ok is false for
// anything else, such as an id another store made.
func idMillis(id string) (int64, bool) {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	if _, err := strconv.ParseUint(seq, 10, 64); err != nil {
		return 0, false
	}
	return n, true
}

// streamIDs returns the ids that are stream ids, skipping the rest.
func streamIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := idMillis(id); ok {
			out = append(out, id)
		}
	}
	return out
}

// Ack implements store.Store: XACK, XDEL and the lease's removal in one
// MULTI (the keys share a slot). Unknown ids are ignored.
func (s *Store) Ack(ctx context.Context, client string, ids []string) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	ids = streamIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	q := s.keys.queue(client)
	_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAck(ctx, q, group, ids...)
		p.XDel(ctx, q, ids...)
		p.ZRem(ctx, s.keys.leases(client), members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.redis: ack %d entries of %s: %w", len(ids), client, err)
	}
	return nil
}

// Release implements store.Store; see releaseScript. Ids this instance
// does not hold a lease on are ignored.
func (s *Store) Release(ctx context.Context, client string, ids []string) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	ids = streamIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(ids))
	args = append(args, group, s.consumer)
	for _, id := range ids {
		args = append(args, id)
	}
	err = releaseScript.Run(ctx, s.rdb, []string{s.keys.queue(client), s.keys.leases(client)}, args...).Err()
	if err != nil {
		return fmt.Errorf("store.redis: release %d entries of %s: %w", len(ids), client, err)
	}
	return nil
}
