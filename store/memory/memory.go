// Package memory is the store.memory module: message ids and client
// queues held in process memory. Nothing survives a restart, so it suits
// tests, the demo and benchmarks of the proxy path; production uses
// store.bolt or store.redis.
package memory

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
)

func init() { module.Register(new(Store)) }

// Store is an in-memory store.Store. The zero value is not usable: it is
// made by the module loader, or by New.
type Store struct {
	// retention (default 48h) and queue_cap (default 25000): see
	// store.Limits. The store applies them on every call, so it takes no
	// sweep.
	store.Limits

	mu      sync.Mutex // guards everything below
	limits  store.Limits
	ids     map[string]idRec
	queues  map[string]*queue
	history map[string][]store.Event // by id, for ids held; at most store.MaxHistory each
	next    uint64
	puts    int
	closed  bool
	dropped uint64
	expired uint64
}

type idRec struct {
	client  string
	expires time.Time
}

type queue struct {
	l    *list.List // of *entry, oldest first
	byID map[string]*list.Element
}

type entry struct {
	store.Entry
	leaseUntil time.Time
}

// New returns a ready Store with limits.
func New(limits store.Limits) *Store {
	s := &Store{Limits: limits}
	s.init()
	return s
}

// MuxModule implements module.Module.
func (*Store) MuxModule() module.Info {
	return module.Info{
		ID:  "store.memory",
		New: func() module.Module { return new(Store) },
		Doc: "ids and report queues in memory; lost on restart (tests, demo)",
	}
}

// Provision implements module.Provisioner.
func (s *Store) Provision(module.Context) error {
	s.init()
	return nil
}

// Validate implements module.Validator.
func (s *Store) Validate() error {
	if s.Sweep != 0 {
		return &module.KeyError{Key: "sweep", Err: errors.New("store.memory applies its limits on every call; it has no sweep")}
	}
	if err := s.Limits.Invalid(); err != nil {
		return fmt.Errorf("store.memory: %w", err)
	}
	return nil
}

func (s *Store) init() {
	s.limits = s.Limits
	s.limits.Defaults()
	s.ids = make(map[string]idRec)
	s.queues = make(map[string]*queue)
	s.history = make(map[string][]store.Event)
}

// Cleanup implements module.CleanerUpper.
func (s *Store) Cleanup() error { return s.Close() }

// PutIDs implements store.Store.
func (s *Store) PutIDs(_ context.Context, recs []store.IDRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	for _, r := range recs {
		s.ids[r.ID] = idRec{client: r.Client, expires: r.Expires}
	}
	if s.puts += len(recs); s.puts > 4096 {
		s.puts = 0
		s.expireIDsLocked(time.Now())
	}
	return nil
}

func (s *Store) expireIDsLocked(now time.Time) {
	for id, r := range s.ids {
		if now.After(r.expires) {
			delete(s.ids, id)
			delete(s.history, id)
			s.expired++
		}
	}
}

// ExpireIDs implements store.IDExpirer.
func (s *Store) ExpireIDs(_ context.Context, ids []string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	for _, id := range ids {
		if r, ok := s.ids[id]; ok && r.expires.After(at) {
			r.expires = at
			s.ids[id] = r
		}
	}
	return nil
}

// LookupID implements store.Store.
func (s *Store) LookupID(_ context.Context, id string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", false, store.ErrClosed
	}
	r, ok := s.ids[id]
	if !ok || time.Now().After(r.expires) {
		return "", false, nil
	}
	return r.client, true, nil
}

// LookupIDs implements store.IDBatchLookup: every id under one lock.
func (s *Store) LookupIDs(_ context.Context, ids []string) ([]string, []bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, store.ErrClosed
	}
	clients, found := make([]string, len(ids)), make([]bool, len(ids))
	now := time.Now()
	for i, id := range ids {
		if r, ok := s.ids[id]; ok && !now.After(r.expires) {
			clients[i], found[i] = r.client, true
		}
	}
	return clients, found, nil
}

// Enqueue implements store.Store.
func (s *Store) Enqueue(ctx context.Context, items []store.Item) error {
	_, err := s.EnqueueLeased(ctx, items, nil, 0)
	return err
}

// EnqueueLeased implements store.LeasedEnqueuer: the entries are leased
// as they are added, under the lock every Fetch takes.
func (s *Store) EnqueueLeased(_ context.Context, items []store.Item, leased []bool, lease time.Duration) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	var ids []string
	if leased != nil {
		ids = make([]string, len(items))
	}
	now := time.Now()
	for i, it := range items {
		q := s.queueLocked(it.Client)
		s.next++
		e := &entry{Entry: store.Entry{
			ID:       strconv.FormatUint(s.next, 10),
			Kind:     it.Kind,
			Frame:    append([]byte(nil), it.Frame...),
			Enqueued: now,
		}}
		if leased != nil && leased[i] {
			e.leaseUntil = now.Add(lease)
			ids[i] = e.ID
		}
		q.byID[e.ID] = q.l.PushBack(e)
		for q.l.Len() > s.limits.QueueCap {
			s.removeLocked(q, q.l.Front())
			s.dropped++
		}
	}
	return ids, nil
}

func (s *Store) queueLocked(client string) *queue {
	q := s.queues[client]
	if q == nil {
		q = &queue{l: list.New(), byID: make(map[string]*list.Element)}
		s.queues[client] = q
	}
	return q
}

func (s *Store) removeLocked(q *queue, el *list.Element) {
	delete(q.byID, el.Value.(*entry).ID)
	q.l.Remove(el)
}

// Fetch implements store.Store.
func (s *Store) Fetch(_ context.Context, client string, max int, lease time.Duration) ([]store.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	q := s.queues[client]
	if q == nil {
		return nil, nil
	}
	now := time.Now()
	var out []store.Entry
	for el := q.l.Front(); el != nil && len(out) < max; {
		e := el.Value.(*entry)
		next := el.Next()
		switch {
		case now.Sub(e.Enqueued) > s.limits.Retention:
			s.removeLocked(q, el)
			s.dropped++
		case e.leaseUntil.After(now):
		default:
			e.leaseUntil = now.Add(lease)
			c := e.Entry
			c.Frame = append([]byte(nil), e.Frame...)
			out = append(out, c)
		}
		el = next
	}
	return out, nil
}

// Ack implements store.Store.
func (s *Store) Ack(_ context.Context, client string, ids []string) error {
	return s.each(client, ids, func(q *queue, el *list.Element) { s.removeLocked(q, el) })
}

// Release implements store.Store.
func (s *Store) Release(_ context.Context, client string, ids []string) error {
	return s.each(client, ids, func(_ *queue, el *list.Element) { el.Value.(*entry).leaseUntil = time.Time{} })
}

func (s *Store) each(client string, ids []string, fn func(*queue, *list.Element)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	q := s.queues[client]
	if q == nil {
		return nil
	}
	for _, id := range ids {
		if el, ok := q.byID[id]; ok {
			fn(q, el)
		}
	}
	return nil
}

// AddEvents implements store.History. Events of ids the store does not
// hold are dropped; an id's history goes when the id expires.
func (s *Store) AddEvents(_ context.Context, events []store.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	for _, e := range events {
		if _, ok := s.ids[e.ID]; !ok {
			continue
		}
		h := append(s.history[e.ID], e)
		if len(h) > store.MaxHistory {
			h = append(h[:0:0], h[len(h)-store.MaxHistory:]...)
		}
		s.history[e.ID] = h
	}
	return nil
}

// History implements store.History.
func (s *Store) History(_ context.Context, id string) ([]store.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if r, ok := s.ids[id]; !ok || time.Now().After(r.expires) {
		return nil, nil
	}
	return slices.Clone(s.history[id]), nil
}

// Peek implements store.Peeker.
func (s *Store) Peek(_ context.Context, client string, max int) ([]store.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	q := s.queues[client]
	if q == nil {
		return nil, nil
	}
	var out []store.Entry
	for el := q.l.Front(); el != nil && len(out) < max; el = el.Next() {
		c := el.Value.(*entry).Entry
		c.Frame = append([]byte(nil), c.Frame...)
		out = append(out, c)
	}
	return out, nil
}

// Stats implements store.Store.
func (s *Store) Stats(context.Context) (store.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Stats{}, store.ErrClosed
	}
	st := store.Stats{IDs: len(s.ids), Queued: make(map[string]int, len(s.queues)), Dropped: s.dropped, Expired: s.expired}
	for c, q := range s.queues {
		if q.l.Len() > 0 {
			st.Queued[c] = q.l.Len()
		}
	}
	return st, nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.IDBatchLookup  = (*Store)(nil)
	_ store.IDExpirer      = (*Store)(nil)
	_ store.LeasedEnqueuer = (*Store)(nil)
	_ store.History        = (*Store)(nil)
	_ store.Peeker         = (*Store)(nil)
	_ module.Provisioner   = (*Store)(nil)
	_ module.Validator     = (*Store)(nil)
	_ module.CleanerUpper  = (*Store)(nil)
)
