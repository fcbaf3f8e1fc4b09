package link

import (
	"sync"
	"sync/atomic"
	"time"
)

// Window is a fixed-capacity table of requests sent and not yet answered,
// keyed by sequence number. Its methods are safe for concurrent use.
type Window[T any] struct {
	mu  sync.Mutex // guards m
	m   map[uint32]windowEntry[T]
	n   atomic.Int32 // len(m), readable without the lock
	cap int
}

type windowEntry[T any] struct {
	v        T
	deadline int64 // unix nanos
}

// NewWindow returns an empty window that holds at most capacity entries.
// Its table is made at the first Add, so an idle session holds none.
func NewWindow[T any](capacity int) *Window[T] {
	return &Window[T]{cap: capacity}
}

// Cap returns the window's capacity.
func (w *Window[T]) Cap() int { return w.cap }

// Len returns the number of entries waiting. It takes no lock: balancers
// read it for every message.
func (w *Window[T]) Len() int { return int(w.n.Load()) }

// Add records v under seq until deadline. It returns false when the window
// is full or seq is already waiting.
func (w *Window[T]) Add(seq uint32, v T, deadline time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m) >= w.cap {
		return false
	}
	if _, dup := w.m[seq]; dup {
		return false
	}
	if w.m == nil {
		w.m = make(map[uint32]windowEntry[T], w.cap)
	}
	w.m[seq] = windowEntry[T]{v: v, deadline: deadline.UnixNano()}
	w.n.Store(int32(len(w.m)))
	return true
}

// Take removes and returns the entry of seq.
func (w *Window[T]) Take(seq uint32) (T, bool) {
	w.mu.Lock()
	e, ok := w.m[seq]
	if ok {
		delete(w.m, seq)
		w.n.Store(int32(len(w.m)))
	}
	w.mu.Unlock()
	return e.v, ok
}

// Expire removes the entries whose deadline is before now and calls fn for
// each, outside the lock.
func (w *Window[T]) Expire(now time.Time, fn func(seq uint32, v T)) {
	n := now.UnixNano()
	var seqs []uint32
	var vals []T
	w.mu.Lock()
	for seq, e := range w.m {
		if e.deadline < n {
			seqs = append(seqs, seq)
			vals = append(vals, e.v)
			delete(w.m, seq)
		}
	}
	w.n.Store(int32(len(w.m)))
	w.mu.Unlock()
	for i, seq := range seqs {
		fn(seq, vals[i])
	}
}

// Drain removes every entry and calls fn for each, outside the lock.
func (w *Window[T]) Drain(fn func(seq uint32, v T)) {
	w.mu.Lock()
	m := w.m
	w.m = nil
	w.n.Store(0)
	w.mu.Unlock()
	for seq, e := range m {
		fn(seq, e.v)
	}
}
