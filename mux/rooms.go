package mux

import (
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// shared is what the rooms (Router, Intake, Dispatcher) have in common,
// set once by New: the store, the clients of the config in force, the
// counters, the logs and the message traces.
type shared struct {
	store    store.Store
	live     *atomic.Pointer[live]
	metrics  *Metrics
	log      *zap.Logger
	storeErr *repeatLog      // store errors, which repeat per batch while the store is down
	stopping <-chan struct{} // closed when Shutdown begins
	*tracer
}
