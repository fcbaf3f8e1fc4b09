package mux

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

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
