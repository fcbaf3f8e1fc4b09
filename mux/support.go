package mux

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/downstream"
)

// idFallback holds message ids the store failed to write, so their reports
// still find their client while the process lives.
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

func sessionFields(s *downstream.Session, req downstream.BindRequest) []zap.Field {
	return []zap.Field{
		zap.Uint64("session", s.ID()), zap.Stringer("remote", req.Remote),
		zap.String("system_id", req.SystemID), zap.Stringer("bind_type", req.Type),
	}
}

func maxBindsField(n int) zap.Field { return zap.Int("max_binds", n) }
