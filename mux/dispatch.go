package mux

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/downstream"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// Dispatcher is the room of deliveries to clients: one goroutine per
// configured client fetches its queued reports and MOs from the store
// (leased for a while), runs its deliver rules and hands them to its
// bound receiver sessions within their windows; the clients' answers come
// back through delivered, and are acknowledged or released in the store
// in batches (ackBatch). Refused entries wait for their back-off
// (dispatch_backoff.go). It takes entries out of the store's queues; what
// goes into them is the Intake's.
type Dispatcher struct {
	shared
	lease    time.Duration // a fetched entry's lease: deliveryLease
	canLease bool          // the store leases what it enqueues: Fetch only when client.backlog says so
	aw       *batcher[ackJob]

	ctx    context.Context // of the dispatchers; set by start
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newDispatcher(sh shared, sc ServerConfig) *Dispatcher {
	d := &Dispatcher{shared: sh, lease: deliveryLease(sc), canLease: canLease(sh.store)}
	d.aw = newBatcher(4096, 512, d.ackBatch)
	return d
}

// deliveryLease is the lease of an entry on its way to a client: twice
// [server] response_timeout.
func deliveryLease(sc ServerConfig) time.Duration { return 2 * sc.ResponseTimeout }

// start starts the acknowledgements, a dispatcher for each client and the
// store's wake-ups.
func (d *Dispatcher) start(clients map[string]*client) {
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Go(func() { d.aw.run(d.ctx) })
	for _, c := range clients {
		d.add(c)
	}
	if n, ok := d.store.(store.Notifier); ok {
		d.wg.Go(func() { d.wakeups(d.ctx, n) })
	}
}

// running reports whether start was called.
func (d *Dispatcher) running() bool { return d.ctx != nil }

// add starts the dispatcher of a client; c.stop ends it.
func (d *Dispatcher) add(c *client) {
	ctx, cancel := context.WithCancel(d.ctx)
	c.stop = cancel
	d.wg.Go(func() { d.dispatch(ctx, c) })
}

// stop ends every dispatcher and the acknowledgements (the queued ones
// are written first), and waits for them.
func (d *Dispatcher) stop() {
	d.cancel()
	d.wg.Wait()
}

// dispatchPoll is how often a dispatcher looks at its queue without being
// woken: for leases that ran out, and for reports another instance stored
// when the store cannot tell (it is no store.Notifier) or a wake-up was
// lost.
const dispatchPoll = time.Second

// wakeups wakes the dispatchers of the clients another instance stored
// reports or MOs for, as the store tells (store.Notifier), until ctx ends.
// Clients this config does not have are ignored.
func (d *Dispatcher) wakeups(ctx context.Context, n store.Notifier) {
	err := n.Subscribe(ctx, func(client string) {
		lv := d.live.Load()
		if client == store.AllClients {
			d.metrics.wakeAll.Add(1)
			for _, c := range lv.byID {
				c.queued()
			}
			return
		}
		if c := lv.byID[client]; c != nil {
			d.metrics.wakeups.Add(1)
			c.queued()
		}
	})
	if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrClosed) {
		d.log.Warn("no wake-ups from the store; queues are polled every second", zap.Error(err))
	}
}

// dispatch delivers one client's queued reports and MOs to its bound
// receiver and transceiver sessions, spread over them, until ctx ends.
// It runs one goroutine per configured client.
func (d *Dispatcher) dispatch(ctx context.Context, c *client) {
	t := time.NewTicker(dispatchPoll)
	defer t.Stop()
	var sessions []*binding
	for {
		select {
		case <-ctx.Done():
			d.releaseSlot(c)
			return
		case <-c.wake:
		case <-t.C:
			c.backlog.Store(true) // leases may have run out
		}
		d.releaseRefused(ctx, c)
		for {
			sessions = c.receivers(sessions[:0])
			room := 0
			for _, b := range sessions {
				room += b.s.WindowFree()
			}
			if c.handedLen() > 0 {
				if !d.deliverHanded(ctx, c, sessions, room) {
					break // the windows are full: no Fetch
				}
				continue // the room is less now
			}
			if room == 0 || (d.canLease && !c.backlog.Load()) {
				break // nothing to fetch: see client.backlog
			}
			n, err := d.deliverBatch(ctx, c, sessions, room)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("cannot fetch queued reports", zap.String("system_id", c.id), zap.Error(err))
			}
			if n < room || err != nil {
				break
			}
		}
	}
}

// deliverBatch fetches up to room entries and hands them to sessions.
func (d *Dispatcher) deliverBatch(ctx context.Context, c *client, sessions []*binding, room int) (int, error) {
	c.backlog.Store(false) // set again by the Intake for what it stores meanwhile
	want := room
	if len(sessions) > 0 {
		want = max(room, min(fetchAhead, room+handoffSlot-c.handedLen()))
	}
	at := time.Now() // no later than the leases begin
	entries, err := d.store.Fetch(ctx, c.id, want, d.lease)
	if err != nil || len(entries) == want {
		c.backlog.Store(true)
	}
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	if len(entries) > room { // the rest waits in the slot, as a handoff
		ahead := entries[room:]
		for i := range ahead {
			ahead[i].Enqueued = at
		}
		c.hand(ahead)
		entries = entries[:room]
	}
	return len(entries), d.deliverEntries(ctx, c, sessions, entries)
}

// fetchAhead is how many entries a Fetch asks for when the windows have
// room for fewer: the rest wait in the client's slot (dispatch_handoff.go)
// for the windows to free, leased, so that a client whose windows take
// ten at a time does not cost the store a Fetch per ten entries. A
// client's window frees as it answers, but the dispatcher learns of it
// only after the store took the acknowledgements: with one Fetch per
// window it would wait for two store round trips per window.
const fetchAhead = 64

// deliverEntries hands leased entries to sessions, and releases those
// no session took.
func (d *Dispatcher) deliverEntries(ctx context.Context, c *client, sessions []*binding, entries []store.Entry) error {
	var release, dropped []string
	cc, ok := c.enterConf()
	if !ok { // the client was removed by a reload
		return d.releaseEntries(ctx, c, entries)
	}
	defer cc.gen.leave()
	delivers := cc.delivers
	i := 0
	for _, e := range entries {
		if len(delivers) > 0 {
			var drop bool
			e.Frame, drop = d.applyDeliverRules(c, delivers, e.Frame)
			if drop {
				dropped = append(dropped, e.ID)
				continue
			}
		}
		d.noteDelivery(c.id, e) // before it is sent: its answer may come at once
		sent := false
		for tries := 0; tries < len(sessions) && !sent; tries++ {
			b := sessions[i%len(sessions)]
			i++
			err := b.s.Deliver(e.Frame, e.ID)
			sent = err == nil
			if err != nil && !errors.Is(err, downstream.ErrWindowFull) && !errors.Is(err, downstream.ErrClosed) {
				b.s.Logger().Warn("cannot deliver queued entry", zap.Error(err))
			}
		}
		if !sent {
			release = append(release, e.ID)
			if d.tracing() {
				d.refs.take(c.id, e.ID)
			}
		}
	}
	if len(dropped) > 0 {
		d.metrics.deliverDropped.Add(uint64(len(dropped)))
		if err := d.store.Ack(ctx, c.id, dropped); err != nil {
			return err
		}
	}
	if len(release) > 0 {
		c.backlog.Store(true)
		return d.store.Release(ctx, c.id, release)
	}
	return nil
}

// releaseEntries ends the leases of entries not delivered.
func (d *Dispatcher) releaseEntries(ctx context.Context, c *client, entries []store.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	c.backlog.Store(true)
	return d.store.Release(ctx, c.id, ids)
}

// applyDeliverRules runs the client's deliver rules over a queued
// deliver_sm; it returns the frame to send (encoded anew when a rule
// changed it) or drop.
func (d *Dispatcher) applyDeliverRules(c *client, rules deliverChain, frame []byte) ([]byte, bool) {
	msg := &c.dmsg
	msg.Reset(c.id)
	if err := msg.SM.Decode(frame[pdu.HeaderLen:]); err != nil {
		return frame, false // not ours to judge: deliver it as the provider sent it
	}
	if err := rules.run(msg); err != nil {
		if ce := d.log.Check(zap.DebugLevel, "deliver_sm dropped by a rule"); ce != nil {
			ce.Write(zap.String("system_id", c.id), zap.Error(err))
		}
		return nil, true
	}
	if !msg.Changed() {
		return frame, false
	}
	return pdu.Append(nil, pdu.CmdDeliverSM, 0, pdu.Seq(frame), &msg.SM), false
}

// delivered handles a client's answer to a deliver_sm: acknowledged
// entries leave the store; entries the client refused wait for their
// back-off (see refusals), and the others (no answer in time, session
// closed) are released for redelivery at once.
func (d *Dispatcher) delivered(b *binding, ref string, st pdu.Status, err error) {
	ok := err == nil && st == pdu.StatusOK
	switch {
	case ok:
		d.metrics.delivered.Add(1)
		b.c.refusals.acked(ref)
	case err == nil:
		b.c.stats.refused(st)
		wait := b.c.refusals.refused(ref, time.Now(), d.lease)
		if ce := d.log.Check(zap.DebugLevel, "deliver_sm refused by the client"); ce != nil {
			ce.Write(zap.String("system_id", b.c.id), zap.Uint64("session", b.s.ID()), zap.Stringer("command_status", st), zap.Duration("retry_in", wait))
		}
		return // released by the dispatcher when the back-off has run out
	}
	if !d.aw.add(ackJob{client: b.c, id: ref, ok: ok}) {
		return // shutting down: the lease runs out and the entry is delivered again
	}
}

// ackJob is one delivery outcome on its way to the store.
type ackJob struct {
	client *client
	id     string
	ok     bool
}

// ackBatch acknowledges or releases entries, grouped by client.
func (d *Dispatcher) ackBatch(batch []ackJob) {
	type key struct {
		c  *client
		ok bool
	}
	groups := map[key][]string{}
	for _, j := range batch {
		k := key{j.client, j.ok}
		groups[k] = append(groups[k], j.id)
	}
	for k, ids := range groups {
		d.traceAcks(k.c.id, ids, k.ok)
		err := d.retryStore(func(ctx context.Context) error {
			if k.ok {
				return d.store.Ack(ctx, k.c.id, ids)
			}
			return d.store.Release(ctx, k.c.id, ids)
		})
		if err != nil && !errors.Is(err, store.ErrClosed) {
			d.log.Warn("cannot update the report queue; entries will be delivered again", zap.Error(err))
		}
		if !k.ok {
			k.c.backlog.Store(true) // released: fetchable again
		}
		k.c.notify()
	}
}

// ackRetryFor bounds how long an acknowledgement is retried while the
// store is down: well inside the lease, after which the entry would be
// delivered again anyway.
const ackRetryFor = 20 * time.Second

// retryStore runs op until it succeeds, the store is closed, the mux
// stops, or ackRetryFor has passed, backing off from 50ms to 1s: a client
// that acknowledged a report while the store was down does not get it
// again once the store is back.
func (d *Dispatcher) retryStore(op func(context.Context) error) error {
	ctx := context.Background()
	deadline := time.Now().Add(ackRetryFor)
	wait := 50 * time.Millisecond
	for {
		err := op(ctx)
		if err == nil || errors.Is(err, store.ErrClosed) || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.stopping:
			t.Stop()
			return err
		}
		wait = min(2*wait, time.Second)
	}
}
