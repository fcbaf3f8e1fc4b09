package mux

import (
	"context"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// The handoff: reports the Intake stored already leased to this instance
// (store.LeasedEnqueuer) because their client had a receiver bound here
// (Intake.handoffPlan). They wait in the client's slot, not in the
// store's queue: its dispatcher delivers them, as it delivers fetched
// entries, before it fetches, so that a report costs the store one write
// in and one delete out (its Ack), and no Fetch. The slot holds at most
// handoffSlot entries beyond the sessions' windows; the dispatcher takes
// from its front what the windows have room for, and releases, for a
// Fetch to take, what waited there more than half its lease, and all
// of it when no receiver is bound. A Fetch puts there too what it took
// beyond the windows' room (fetchAhead). In the slot an entry's Enqueued
// is this instance's time no later than its lease began. When the
// dispatcher stops (the mux stops, or a reload removed the client), it
// releases what is left in the slot, so that another instance need not
// wait for the leases to run out.

// hand puts entries the store holds leased into the client's slot and
// wakes its dispatcher.
func (c *client) hand(entries []store.Entry) {
	c.hmu.Lock()
	c.handed = append(c.handed, entries...)
	c.hmu.Unlock()
	c.notify()
}

// queued wakes the client's dispatcher to fetch: its store queue has
// entries for it (see backlog).
func (c *client) queued() {
	c.backlog.Store(true)
	c.notify()
}

// takeHanded appends up to max entries from the front of the client's
// slot to dst.
func (c *client) takeHanded(dst []store.Entry, max int) []store.Entry {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	n := min(max, len(c.handed))
	dst = append(dst, c.handed[:n]...)
	clear(c.handed[:n]) // the frames go with dst
	if c.handed = c.handed[n:]; len(c.handed) == 0 {
		c.handed = c.handed[:0:0]
	}
	return dst
}

// handedLen is how many entries wait in the client's slot.
func (c *client) handedLen() int {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return len(c.handed)
}

// deliverHanded delivers entries from the front of the client's slot
// within room, except those handed over more than half a lease ago,
// whose lease may run out before the client answers, and all of them
// when no receiver is bound: it releases those (a Fetch takes them). It
// reports whether the slot is empty now.
func (d *Dispatcher) deliverHanded(ctx context.Context, c *client, sessions []*binding, room int) bool {
	if len(sessions) == 0 {
		room = math.MaxInt
	}
	taken := c.takeHanded(c.hbuf[:0], room)
	fresh := time.Now().Add(-d.lease / 2)
	send := taken[:0]
	var release []store.Entry
	for _, e := range taken {
		if len(sessions) == 0 || !e.Enqueued.After(fresh) {
			release = append(release, e)
		} else {
			send = append(send, e)
		}
	}
	err := d.releaseEntries(ctx, c, release)
	if len(send) > 0 {
		if e := d.deliverEntries(ctx, c, sessions, send); err == nil {
			err = e
		}
	}
	clear(taken)
	c.hbuf = taken[:0]
	if err != nil && ctx.Err() == nil {
		d.log.Warn("cannot release or acknowledge handed reports; their leases run out", zap.String("system_id", c.id), zap.Error(err))
	}
	return c.handedLen() == 0
}

// slotReleaseTimeout bounds the release of a stopping dispatcher's slot.
const slotReleaseTimeout = 2 * time.Second

// releaseSlot releases the entries left in the client's slot when its
// dispatcher stops; when the store fails, their leases run out instead.
func (d *Dispatcher) releaseSlot(c *client) {
	left := c.takeHanded(nil, math.MaxInt)
	if len(left) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), slotReleaseTimeout)
	defer cancel()
	if err := d.releaseEntries(ctx, c, left); err != nil {
		d.log.Warn("cannot release the reports waiting for a stopped dispatcher; their leases run out", zap.String("system_id", c.id), zap.Int("entries", len(left)), zap.Error(err))
	}
}
