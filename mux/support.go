package mux

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/store"
)

// idFallback holds message ids the store failed to write, so their reports
// still find their client until the write-back loop has written them to
// the store (see idJournal).
type idFallback struct {
	mu      sync.Mutex // guards m, sweepAt
	m       map[string]idRec
	sweepAt int // sweep expired ids when m reaches this size
}

type idRec struct {
	client  string
	expires time.Time
}

func (f *idFallback) put(id, client string, exp time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]idRec{}
	}
	if len(f.m) >= f.sweepAt {
		// Expired ids go; the rest are still needed to route receipts.
		now := time.Now()
		for k, r := range f.m {
			if now.After(r.expires) {
				delete(f.m, k)
			}
		}
		f.sweepAt = max(4096, 2*len(f.m))
	}
	f.m[id] = idRec{client, exp}
}

// size returns how many ids f holds, expired ones not yet swept included.
func (f *idFallback) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// snapshot returns the ids f holds that have not expired by now, and
// forgets the expired ones.
func (f *idFallback) snapshot(now time.Time) []store.IDRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]store.IDRecord, 0, len(f.m))
	for k, r := range f.m {
		if now.After(r.expires) {
			delete(f.m, k)
			continue
		}
		out = append(out, store.IDRecord{ID: k, Client: r.client, Expires: r.expires})
	}
	return out
}

// remove forgets recs, the store has them now; an id put again since
// (another client or expiry) stays.
func (f *idFallback) remove(recs []store.IDRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		if cur, ok := f.m[r.ID]; ok && cur.client == r.Client && cur.expires.Equal(r.Expires) {
			delete(f.m, r.ID)
		}
	}
}

func (f *idFallback) get(id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.m[id]
	if !ok || time.Now().After(r.expires) {
		return "", false
	}
	return r.client, true
}

// sampled wraps a core so that repeated messages are logged a few times a
// second at most.
func sampled(c zapcore.Core) zapcore.Core {
	return zapcore.NewSamplerWithOptions(c, time.Second, 5, 100)
}

func maxBindsField(n int) zap.Field { return zap.Int("max_binds", n) }

// repeatLog logs an error that repeats per batch (a full disk, the store
// down) once per interval with how often it happened, instead of a line
// per batch: the first occurrence at once, then at most one line per
// interval carrying the count since the last line.
type repeatLog struct {
	zl       *zap.Logger
	interval time.Duration

	mu    sync.Mutex // guards last, count
	last  map[string]time.Time
	count map[string]int
}

func newRepeatLog(log *zap.Logger, interval time.Duration) *repeatLog {
	return &repeatLog{zl: log, interval: interval, last: map[string]time.Time{}, count: map[string]int{}}
}

// log logs msg at Error with err, or counts it when msg was logged less
// than the interval ago.
func (rl *repeatLog) log(msg string, err error, fields ...zap.Field) {
	now := time.Now()
	rl.mu.Lock()
	if last, ok := rl.last[msg]; ok && now.Sub(last) < rl.interval {
		rl.count[msg]++
		rl.mu.Unlock()
		return
	}
	n, last := rl.count[msg], rl.last[msg]
	rl.last[msg] = now
	rl.count[msg] = 0
	rl.mu.Unlock()
	if n > 0 {
		fields = append(fields, zap.Int("repeated", n), zap.Duration("since", now.Sub(last)))
	}
	rl.zl.Error(msg, append(fields, zap.Error(err))...)
}
