package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/store"
)

// An id's history lives in its id key, after the client: the value is
// the client system_id, then one frame per event, each a 0x00 byte (the
// mark), its length (2 bytes, big-endian) and the event in the form of
// store.AppendEvent. A system_id holds no 0x00 (PutIDs refuses one that
// does), so the client is what comes before the first 0x00, or all of a
// value without one (as earlier versions wrote them). Every frame
// starting with the mark lets AddEvents append without reading the value
// first.
const (
	frameMark = 0x00
	frameHead = 3 // the mark and the length
	// minFrame is the shortest frame: an event of kind, time and two
	// empty strings.
	minFrame = frameHead + 1 + 8 + 1 + 1
)

// historyScript appends events to the histories of several ids: per key,
// one APPEND of its frames. A key the APPEND created (its reply is the
// length appended, and the key has no expiry) is an id the store does not
// hold: it is deleted, so that no key is ever left without an expiry.
// When the value is longer than max frames of the shortest kind, it may
// hold more than max events: it is then read, and set again (KEEPTTL)
// with the client and the latest max frames when it holds more.
//
// KEYS: the ids' keys. ARGV: max, then per key the frames to append.
var historyScript = goredis.NewScript(`
local max = tonumber(ARGV[1])
local bound = max * ` + fmt.Sprint(minFrame) + `
local function trim(key)
  local v = redis.call('GET', key)
  local p = string.find(v, '\0', 1, true)
  local starts = {}
  while p and p + 2 <= #v and string.byte(v, p) == 0 do
    starts[#starts + 1] = p
    p = p + 3 + string.byte(v, p + 1) * 256 + string.byte(v, p + 2)
  end
  if #starts > max then
    redis.call('SET', key, string.sub(v, 1, starts[1] - 1) .. string.sub(v, starts[#starts - max + 1]), 'KEEPTTL')
  end
end
for i = 1, #KEYS do
  local add = ARGV[i + 1]
  local n = redis.call('APPEND', KEYS[i], add)
  if n == #add and redis.call('PTTL', KEYS[i]) == -1 then
    redis.call('DEL', KEYS[i])
  elseif n > bound then
    trim(KEYS[i])
  end
end
return 0
`)

// appendFrame appends e's frame (see frameMark) to b.
func appendFrame(b []byte, e store.Event) []byte {
	b = append(b, frameMark, 0, 0)
	n := len(b)
	b = store.AppendEvent(b, e)
	binary.BigEndian.PutUint16(b[n-2:n], uint16(len(b)-n))
	return b
}

// clientOf returns the client of an id key's value: what comes before
// its first frame.
func clientOf(v string) string {
	if i := strings.IndexByte(v, frameMark); i >= 0 {
		return v[:i]
	}
	return v
}

// framesOf returns the frames of an id key's value, "" when it has none.
func framesOf(v string) string {
	if i := strings.IndexByte(v, frameMark); i >= 0 {
		return v[i:]
	}
	return ""
}

// errBadFrame is returned for an id key's value whose frames do not
// split.
var errBadFrame = errors.New("malformed history frame")

// decodeFrames decodes the events of an id key's frames (see framesOf)
// and appends them to out.
func decodeFrames(out []store.Event, frames, id string) ([]store.Event, error) {
	for len(frames) > 0 {
		if len(frames) < frameHead || frames[0] != frameMark {
			return nil, errBadFrame
		}
		n := frameHead + int(binary.BigEndian.Uint16([]byte(frames[1:frameHead])))
		if len(frames) < n {
			return nil, errBadFrame
		}
		e, rest, err := store.DecodeEvent([]byte(frames[frameHead:n]), id)
		if err != nil {
			return nil, err
		}
		if len(rest) != 0 {
			return nil, errBadFrame
		}
		out = append(out, e)
		frames = frames[n:]
	}
	return out, nil
}

// AddEvents implements store.History: per id, one APPEND of its events'
// frames to its id key, in historyScript: one call for the whole batch
// (up to batchKeys ids a call) on one server, one call per id on a
// cluster, whose ids sit in slots of their own; all in one pipeline. The
// events then live as long as the id (its SET PXAT, and ExpireIDs);
// their Expires is not used. Events of an id the store does not hold
// (a receipt stored before its id, in the orphan queue) are dropped.
func (s *Store) AddEvents(ctx context.Context, events []store.Event) error {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(cancel)
	if len(events) == 0 {
		return nil
	}
	idx := make(map[string]int)
	var ids []string
	var frames [][]byte
	for _, e := range events {
		i, ok := idx[e.ID]
		if !ok {
			i = len(ids)
			idx[e.ID] = i
			ids = append(ids, e.ID)
			frames = append(frames, nil)
		}
		frames[i] = appendFrame(frames[i], e)
	}
	if err := s.appendFrames(ctx, ids, frames); err != nil {
		return fmt.Errorf("store.redis: add %d history events: %w", len(events), err)
	}
	return nil
}

// appendFrames runs historyScript for ids, appending to each its frames
// (frames[i] to ids[i]).
func (s *Store) appendFrames(ctx context.Context, ids []string, frames [][]byte) error {
	var calls []*scriptCall
	for i, id := range ids {
		if i%s.keysPerCall() == 0 {
			calls = append(calls, &scriptCall{script: historyScript, args: []any{store.MaxHistory}})
		}
		c := calls[len(calls)-1]
		c.keys = append(c.keys, s.keys.id(id))
		c.args = append(c.args, frames[i])
	}
	s.runScripts(ctx, calls, nil)
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			return err
		}
	}
	return nil
}

// History implements store.History: one GET of the id key, and an LRANGE
// of the list where versions before histories moved into the id key kept
// them (h:{id}, expiring dlr_ttl after its last event), in one pipeline;
// the list's events come first, and the latest store.MaxHistory are
// returned.
func (s *Store) History(ctx context.Context, id string) ([]store.Event, error) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(cancel)
	var val *goredis.StringCmd
	var old *goredis.StringSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		val = p.Get(ctx, s.keys.id(id))
		old = p.LRange(ctx, s.keys.history(id), 0, -1)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("store.redis: history of %s: %w", id, err)
	}
	for _, c := range []goredis.Cmder{val, old} {
		if err := c.Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return nil, fmt.Errorf("store.redis: history of %s: %w", id, err)
		}
	}
	out := make([]store.Event, 0, len(old.Val())+3)
	for _, v := range old.Val() {
		e, _, err := store.DecodeEvent([]byte(v), id)
		if err != nil {
			return nil, fmt.Errorf("store.redis: history of %s: %w", id, err)
		}
		out = append(out, e)
	}
	if out, err = decodeFrames(out, framesOf(val.Val()), id); err != nil {
		return nil, fmt.Errorf("store.redis: history of %s: %w", id, err)
	}
	return out[max(0, len(out)-store.MaxHistory):], nil
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
