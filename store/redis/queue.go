package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// Fields of a queue stream entry; enqueueScript writes them too.
const (
	fieldKind  = "k" // store.Kind in decimal
	fieldFrame = "f" // the deliver_sm PDU as the provider sent it
)

// scripts are every script of the store: Open loads them (on every
// master of a cluster), and calls run them by SHA.
var scripts = []*goredis.Script{enqueueScript, enqueueLeasedScript, fetchScript, ackScript, releaseScript, acquireScript, renewScript, historyScript, expireScript}

// enqueueScript adds one client's items of a batch to its stream, in
// order, each report once: a report whose seen key (by a hash of its
// body) was set within the dedup TTL is skipped. Every key is the
// client's, so the call touches one cluster slot. When it added
// anything it publishes the wake-up message on the wake channel (see
// notify.go), in the same atomic step, so that a subscriber woken by it
// always finds the entries.
//
// KEYS: queue stream, then the seen key of each report. ARGV: dedup TTL
// ms, wake channel, wake message, then per item: kind, frame, index in
// KEYS of its seen key (0 for an MO, not deduplicated). Returns the
// number of entries added.
var enqueueScript = goredis.NewScript(`
local q, ttl, n = KEYS[1], ARGV[1], 0
for i = 4, #ARGV, 3 do
  local seen = tonumber(ARGV[i + 2])
  if seen == 0 or redis.call('SET', KEYS[seen], '1', 'NX', 'PX', ttl) then
    redis.call('XADD', q, '*', 'k', ARGV[i], 'f', ARGV[i + 1])
    n = n + 1
  end
end
if n > 0 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return n
`)

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

// olderLua is the Lua function older(a, b) of the scripts that order
// stream entry ids ("ms-seq"): whether a comes before b.
const olderLua = `local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end`

// fetchScript leases up to max entries of one client's queue, atomically,
// so that two instances never lease one entry at once. It first trims
// entries past retention (XTRIM MINID: a stream id starts with its
// time in ms), then re-claims entries whose lease ended or was released
// (the leases sorted set: id -> lease end in Redis ms; released = 0),
// oldest first, then reads new entries (XREADGROUP ">"), creating the
// group the first time (when XREADGROUP answers NOGROUP and the queue
// exists; a queue that does not exist has no leases either). Every entry it hands out is claimed by this
// consumer in the group's pending list and gets a lease end (one ZADD
// for the new ones). Lease ends use the Redis clock (TIME), so instances
// with skewed clocks agree.
//
// KEYS: queue stream, leases zset. ARGV: group, consumer, max, lease ms,
// retention ms. Returns {trimmed, {{id, {field, value, ...}}, ...}}.
var fetchScript = goredis.NewScript(`
local q, l = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local max, lease, retention = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local trimmed = 0
if now > retention then
  trimmed = redis.call('XTRIM', q, 'MINID', string.format('%d', now - retention))
end
` + olderLua + `
local out = {}
local til = string.format('%d', now + lease)
local due = redis.call('ZRANGEBYSCORE', l, '-inf', now)
table.sort(due, older)
for _, id in ipairs(due) do
  if #out >= max then break end
  local r = redis.pcall('XCLAIM', q, group, consumer, 0, id)
  if type(r) == 'table' and not r.err and r[1] and r[1][2] then
    redis.call('ZADD', l, til, id)
    out[#out + 1] = r[1]
  else
    redis.call('ZREM', l, id)
    redis.pcall('XACK', q, group, id)
  end
end
if #out < max then
  local function read()
    return redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - #out, 'STREAMS', q, '>')
  end
  local r = read()
  if type(r) == 'table' and r.err then
    if not string.find(r.err, 'NOGROUP', 1, true) then return redis.error_reply(r.err) end
    if redis.call('EXISTS', q) == 0 then
      redis.call('DEL', l)
      return {trimmed, out}
    end
    redis.call('XGROUP', 'CREATE', q, group, '0')
    r = read()
    if type(r) == 'table' and r.err then return redis.error_reply(r.err) end
  end
  if r then
    local z = {}
    for _, e in ipairs(r[1][2]) do
      z[#z + 1] = til
      z[#z + 1] = e[1]
      out[#out + 1] = e
    end
    for i = 1, #z, 1000 do
      redis.call('ZADD', l, unpack(z, i, math.min(i + 999, #z)))
    end
  end
end
return {trimmed, out}
`)

// ackScript acknowledges, deletes and unleases entries in one call: XACK,
// XDEL and ZREM, 500 ids a command. A queue with no group yet has nothing
// to acknowledge.
//
// KEYS: queue stream, leases zset. ARGV: group, ids...
var ackScript = goredis.NewScript(`
local q, l = KEYS[1], KEYS[2]
for i = 2, #ARGV, 500 do
  local j = math.min(i + 499, #ARGV)
  redis.pcall('XACK', q, ARGV[1], unpack(ARGV, i, j))
  redis.call('XDEL', q, unpack(ARGV, i, j))
  redis.call('ZREM', l, unpack(ARGV, i, j))
end
return 0
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

// scriptCall is one call of a script in a pipeline.
type scriptCall struct {
	script *goredis.Script
	keys   []string // of one cluster slot
	args   []any
	cmd    *goredis.Cmd // the reply, once run
}

// runScripts sends calls by SHA in one pipeline, with the commands more
// adds; in a cluster go-redis splits it by node. Calls a server answered
// NOSCRIPT (it lost its scripts: a restart, a failover) did nothing, and
// are sent again in full (EVAL) in a second pipeline. Callers read each
// command's result.
func (s *Store) runScripts(ctx context.Context, calls []*scriptCall, more func(p goredis.Pipeliner)) {
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if more != nil {
			more(p)
		}
		for _, c := range calls {
			c.cmd = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var again []*scriptCall
	for _, c := range calls {
		if goredis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			again = append(again, c)
		}
	}
	if len(again) == 0 {
		return
	}
	_, _ = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, c := range again {
			c.cmd = c.script.Eval(ctx, p, c.keys, c.args...)
		}
		return nil
	})
}

// Enqueue implements store.Store: one enqueueScript call per client of
// the batch, and an SADD of the clients this instance has not added to
// the clients set yet, in one pipeline (one round trip; in a cluster, one
// per node). It returns after Redis acknowledged every write; when some
// failed it returns an error, and the items that were written stay
// (delivery is at least once).
//
// Reports are queued once: a write Redis applied but whose answer was
// lost makes the mux refuse the report (ESME_RX_T_APPN) and the provider
// resend it.
func (s *Store) Enqueue(ctx context.Context, items []store.Item) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	if len(items) == 0 {
		return nil
	}
	var (
		order []string // clients in order of their first item
		by    = make(map[string]*scriptCall, 1)
	)
	for _, it := range items {
		c := by[it.Client]
		if c == nil {
			c = &scriptCall{script: enqueueScript, keys: []string{s.keys.queue(it.Client)}, args: []any{dedupTTL.Milliseconds(), s.keys.wake(), s.wakeMessage(it.Client)}}
			by[it.Client] = c
			order = append(order, it.Client)
		}
		seen := 0
		if it.Kind == store.KindReport {
			c.keys = append(c.keys, s.keys.seen(it.Client, reportSum(it.Frame)))
			seen = len(c.keys)
		}
		c.args = append(c.args, strconv.Itoa(int(it.Kind)), it.Frame, seen)
	}
	calls := make([]*scriptCall, len(order))
	for i, c := range order {
		calls[i] = by[c]
	}
	add := s.known.missing(order)
	var sadd *goredis.IntCmd
	s.runScripts(ctx, calls, func(p goredis.Pipeliner) {
		if len(add) > 0 {
			sadd = p.SAdd(ctx, s.keys.clients(), add...)
		}
	})
	if sadd != nil && sadd.Err() == nil {
		s.known.add(add)
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			return fmt.Errorf("store.redis: enqueue %d items: %w", len(items), err)
		}
	}
	if sadd != nil && sadd.Err() != nil {
		return fmt.Errorf("store.redis: enqueue %d items: clients set: %w", len(items), sadd.Err())
	}
	return nil
}

// knownSet is the clients this instance added to the clients set, so
// that Enqueue adds each once, not in every batch; the sweep adds them
// all again each time, in case the set was lost (a Redis restart without
// persistence).
type knownSet struct {
	mu  sync.Mutex
	set map[string]bool // guarded by mu
}

// missing returns the clients not added yet, as SADD members.
func (k *knownSet) missing(clients []string) []any {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []any
	for _, c := range clients {
		if !k.set[c] {
			out = append(out, c)
		}
	}
	return out
}

func (k *knownSet) add(clients []any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.set == nil {
		k.set = make(map[string]bool)
	}
	for _, c := range clients {
		k.set[c.(string)] = true
	}
}

// all returns every client added, as SADD members.
func (k *knownSet) all() []any {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]any, 0, len(k.set))
	for c := range k.set {
		out = append(out, c)
	}
	return out
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
	if s.handouts.takeUncertain(client) {
		if err := s.releaseStranded(ctx, client); err != nil {
			s.handouts.failed(client) // try again at the next Fetch
			return nil, err
		}
	}
	s.leasing.RLock()
	defer s.leasing.RUnlock()
	start := time.Now()
	res, err := fetchScript.Run(ctx, s.rdb,
		[]string{s.keys.queue(client), s.keys.leases(client)},
		group, s.consumer, max, max64(lease.Milliseconds(), 1), s.limits.Retention.Milliseconds()).Slice()
	if err != nil {
		s.handouts.failed(client) // Redis may have run it: see handouts
		return nil, fmt.Errorf("store.redis: fetch %s: %w", client, err)
	}
	trimmed, out, err := parseFetch(res)
	if err != nil {
		s.handouts.failed(client)
		return nil, fmt.Errorf("store.redis: fetch %s: %w", client, err)
	}
	if len(out) > 0 {
		ids := make([]string, len(out))
		for i, e := range out {
			ids[i] = e.ID
		}
		s.handouts.handed(client, ids, start.Add(lease))
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

// Ack implements store.Store; see ackScript. Unknown ids are ignored.
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
	args := make([]any, 0, 1+len(ids))
	args = append(args, group)
	for _, id := range ids {
		args = append(args, id)
	}
	err = ackScript.Run(ctx, s.rdb, []string{s.keys.queue(client), s.keys.leases(client)}, args...).Err()
	if err != nil {
		return fmt.Errorf("store.redis: ack %d entries of %s: %w", len(ids), client, err)
	}
	s.handouts.done(client, ids)
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
	return s.releaseEntries(ctx, client, ids)
}

// releaseEntries is Release, for a caller that holds closeMu.
func (s *Store) releaseEntries(ctx context.Context, client string, ids []string) error {
	ids = streamIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(ids))
	args = append(args, group, s.consumer)
	for _, id := range ids {
		args = append(args, id)
	}
	err := releaseScript.Run(ctx, s.rdb, []string{s.keys.queue(client), s.keys.leases(client)}, args...).Err()
	if err != nil {
		return fmt.Errorf("store.redis: release %d entries of %s: %w", len(ids), client, err)
	}
	s.handouts.done(client, ids)
	return nil
}
