package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// A Fetch whose reply is lost (the call timed out in the mux, or the link
// dropped, while Redis ran the script) leaves entries claimed by this
// instance's consumer and leased, though nobody here ever saw them: they
// would wait for their lease to run out, twice response_timeout for a
// client's queue and ten minutes for the orphan queue. So the store keeps
// the entries its Fetch handed out, per client, until they are
// acknowledged, released or their lease has passed; after a Fetch of a
// client fails, its next Fetch first releases the entries pending for this
// consumer that were not handed out. This consumer name is this process's
// alone, so no other caller's lease is touched; within the process, the
// recovery waits for the Fetch and EnqueueLeased calls in flight, whose
// entries Redis may have leased before their reply is back (Store.leasing).
type handouts struct {
	mu        sync.Mutex                      // guards the maps
	out       map[string]map[string]time.Time // client -> entry id -> lease end (local clock)
	uncertain map[string]bool                 // client -> a Fetch failed since the last check
}

func (h *handouts) handed(client string, ids []string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.out == nil {
		h.out = map[string]map[string]time.Time{}
	}
	m := h.out[client]
	if m == nil {
		m = map[string]time.Time{}
		h.out[client] = m
	}
	for _, id := range ids {
		m[id] = until
	}
}

func (h *handouts) done(client string, ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.out[client]
	for _, id := range ids {
		delete(m, id)
	}
}

func (h *handouts) failed(client string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.uncertain == nil {
		h.uncertain = map[string]bool{}
	}
	h.uncertain[client] = true
}

// takeUncertain reports whether a Fetch of client failed since it was last
// asked, and clears that.
func (h *handouts) takeUncertain(client string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.uncertain[client]
	delete(h.uncertain, client)
	return u
}

// stranded returns those of pending that were not handed out, or whose
// lease has passed (another Fetch may hand them out again then), and
// forgets handed-out entries whose lease has passed.
func (h *handouts) stranded(client string, pending []string, now time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.out[client]
	for id, until := range m {
		if !now.Before(until) {
			delete(m, id)
		}
	}
	var out []string
	for _, id := range pending {
		if _, ok := m[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// uncertainClients returns, and clears, the clients whose Fetch failed.
func (h *handouts) uncertainClients() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.uncertain))
	for c := range h.uncertain {
		out = append(out, c)
	}
	clear(h.uncertain)
	return out
}

// releaseAllStranded releases, at each sweep, what lost fetches leased
// for clients this instance has not fetched since (a client no longer
// bound here, say).
func (s *Store) releaseAllStranded(ctx context.Context) {
	ctx, cancel, err := s.acquire(ctx)
	if err != nil {
		return
	}
	defer s.release(cancel)
	for _, c := range s.handouts.uncertainClients() {
		if err := s.releaseStranded(ctx, c); err != nil {
			s.handouts.failed(c)
			return // Redis is still out of reach: the next sweep tries again
		}
	}
}

// maxStranded bounds the pending entries one recovery looks at.
const maxStranded = 10000

// releaseStranded releases the entries of client's queue pending for this
// consumer that no Fetch handed out: a Fetch whose reply was lost leased
// them.
func (s *Store) releaseStranded(ctx context.Context, client string) error {
	// No leasing call is between its script and its handouts meanwhile:
	// their entries are pending in Redis and not yet known here.
	s.leasing.Lock()
	defer s.leasing.Unlock()
	pending, err := s.rdb.XPendingExt(ctx, &goredis.XPendingExtArgs{
		Stream: s.keys.queue(client), Group: group, Start: "-", End: "+", Count: maxStranded, Consumer: s.consumer,
	}).Result()
	if err != nil && !isNoGroup(err) {
		return fmt.Errorf("store.redis: pending entries of %s: %w", client, err)
	}
	ids := make([]string, len(pending))
	for i, p := range pending {
		ids[i] = p.ID
	}
	lost := s.handouts.stranded(client, ids, time.Now())
	if len(lost) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(lost))
	args = append(args, group, s.consumer)
	for _, id := range lost {
		args = append(args, id)
	}
	if err := releaseScript.Run(ctx, s.rdb, []string{s.keys.queue(client), s.keys.leases(client)}, args...).Err(); err != nil {
		return fmt.Errorf("store.redis: release %d stranded entries of %s: %w", len(lost), client, err)
	}
	s.log.Info("released entries a lost fetch had leased", zap.String("client", client), zap.Int("entries", len(lost)))
	return nil
}
