package mux

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// queueStore records the acknowledgements and releases of queue entries.
type queueStore struct {
	store.Store
	mu              sync.Mutex
	acked, released map[string][]string // by client
	ackErr          error
	ackCalls        int
}

func (q *queueStore) Ack(_ context.Context, client string, ids []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ackCalls++
	if q.ackErr != nil {
		return q.ackErr
	}
	q.acked[client] = append(q.acked[client], ids...)
	return nil
}

func (q *queueStore) Release(_ context.Context, client string, ids []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.released[client] = append(q.released[client], ids...)
	return nil
}

func newQueueStore() *queueStore {
	return &queueStore{acked: map[string][]string{}, released: map[string][]string{}}
}

// testShared is what a room needs to run alone, over st, with the
// clients of cfg.
func testShared(st store.Store, cfg *Config) shared {
	lv := &atomic.Pointer[live]{}
	lv.Store(newLive(cfg))
	for _, cc := range cfg.Clients {
		lv.Load().byID[cc.SystemID] = newClient(cc, &ruleGen{})
	}
	return shared{store: st, live: lv, metrics: &Metrics{}, log: zap.NewNop(), storeErr: newRepeatLog(zap.NewNop(), 0),
		stopping: make(chan struct{}), tracer: &tracer{}}
}

// defaultServer is [server] with every key at its default.
func defaultServer() ServerConfig {
	var sc ServerConfig
	sc.defaults()
	return sc
}

// drain runs the batches of what b has queued, then returns.
func drain[T any](b *batcher[T]) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.run(ctx)
}

// The Dispatcher alone, without a Mux: a client's answers become one
// acknowledgement (taken), one release (no answer: delivered again at
// once), and one refusal, which waits for its back-off and is neither
// acknowledged nor released yet; the client's dispatcher is woken.
func TestDispatcherAnswers(t *testing.T) {
	qs := newQueueStore()
	d := newDispatcher(testShared(qs, &Config{}), defaultServer())
	c := newClient(ClientConfig{SystemID: "shop"}, &ruleGen{})
	b := &binding{c: c}
	d.delivered(b, "taken", pdu.StatusOK, nil)
	d.delivered(b, "lost", 0, errors.New("response timeout"))
	d.delivered(b, "refused", pdu.StatusSysErr, nil)
	drain(d.aw)

	if got := qs.acked["shop"]; !slices.Equal(got, []string{"taken"}) {
		t.Errorf("acknowledged %q, want [taken]", got)
	}
	if got := qs.released["shop"]; !slices.Equal(got, []string{"lost"}) {
		t.Errorf("released %q, want [lost]", got)
	}
	if n := d.metrics.delivered.Load(); n != 1 {
		t.Errorf("delivered counted %d, want 1", n)
	}
	if n := c.stats.snapshot().Refused[pdu.StatusSysErr]; n != 1 {
		t.Errorf("refusals counted %d, want 1", n)
	}
	select {
	case <-c.wake:
	default:
		t.Error("the client's dispatcher was not woken")
	}
	d.releaseRefused(context.Background(), c) // its back-off (a second) has not run out
	if got := qs.released["shop"]; len(got) != 1 {
		t.Errorf("released %q; the refused entry before its back-off", got)
	}
}

// An acknowledgement the store refuses is retried until the mux stops:
// once stopping, it is tried once and given up (the lease brings the
// entry back).
func TestDispatcherAckRetryEndsAtShutdown(t *testing.T) {
	qs := newQueueStore()
	qs.ackErr = errors.New("disk full")
	sh := testShared(qs, &Config{})
	stopping := make(chan struct{})
	sh.stopping = stopping
	d := newDispatcher(sh, defaultServer())
	c := newClient(ClientConfig{SystemID: "shop"}, &ruleGen{})
	d.delivered(&binding{c: c}, "taken", pdu.StatusOK, nil)
	close(stopping)
	drain(d.aw)
	if qs.ackCalls != 1 {
		t.Errorf("%d Ack calls while stopping, want 1", qs.ackCalls)
	}
}

// A dispatcher that stops releases what waits in its client's slot, so
// that another instance need not wait for the leases to run out.
func TestDispatcherStopReleasesSlot(t *testing.T) {
	qs := newQueueStore()
	d := newDispatcher(testShared(qs, &Config{}), defaultServer())
	c := newClient(ClientConfig{SystemID: "shop"}, &ruleGen{})
	c.handed = []store.Entry{{ID: "1-0"}, {ID: "2-0"}}
	d.start(map[string]*client{"shop": c})
	d.stop()
	if got := qs.released["shop"]; !slices.Equal(got, []string{"1-0", "2-0"}) {
		t.Errorf("released %q, want [1-0 2-0]", got)
	}
	if n := c.handedLen(); n != 0 {
		t.Errorf("%d entries left in the slot", n)
	}
}

// A receiver's session that ends wakes its client's dispatcher, which
// then releases what waits in the slot if no receiver is left, rather
// than at its next poll; a transmitter's does not.
func TestReceiverClosedWakesDispatcher(t *testing.T) {
	c := newClient(ClientConfig{SystemID: "shop"}, &ruleGen{})
	(&binding{c: c}).Closed(nil, nil)
	select {
	case <-c.wake:
		t.Fatal("a transmitter's end woke the dispatcher")
	default:
	}
	(&binding{c: c, receiver: true}).Closed(nil, nil)
	select {
	case <-c.wake:
	default:
		t.Fatal("a receiver's end did not wake the dispatcher")
	}
}
