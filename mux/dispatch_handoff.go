package mux

import (
	"context"
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
// one window per receiver session beyond the windows themselves; what
// the dispatcher cannot deliver yet it keeps there while half their
// lease is left, and releases, for a Fetch to take, after that or when
// no receiver is bound.

// hand puts entries the store holds leased into the client's slot and
// wakes its dispatcher.
func (c *client) hand(entries []store.Entry) {
	c.hmu.Lock()
	c.handed = append(c.handed, entries...)
	c.hmu.Unlock()
	c.notify()
}

// takeHanded empties the client's slot.
func (c *client) takeHanded() []store.Entry {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	h := c.handed
	c.handed = nil
	return h
}

// putBack returns entries taken from the slot to its front.
func (c *client) putBack(entries []store.Entry) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.handed = append(entries, c.handed...)
}

// handedLen is how many entries wait in the client's slot.
func (c *client) handedLen() int {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return len(c.handed)
}

// deliverHanded delivers entries of the client's slot within room and
// puts the others back, except those handed over more than half a lease
// ago, whose lease may run out before the client answers, and all of
// them when no receiver is bound: it releases those (a Fetch takes
// them). It reports whether it delivered every entry it took.
func (d *Dispatcher) deliverHanded(ctx context.Context, c *client, sessions []*binding, room int) bool {
	handed := c.takeHanded()
	if len(handed) == 0 {
		return true
	}
	fresh := time.Now().Add(-d.lease / 2)
	var send, keep, release []store.Entry
	for _, e := range handed {
		switch {
		case len(sessions) == 0 || !e.Enqueued.After(fresh):
			release = append(release, e)
		case len(send) < room:
			send = append(send, e)
		default:
			keep = append(keep, e)
		}
	}
	if len(keep) > 0 {
		c.putBack(keep)
	}
	err := d.releaseEntries(ctx, c, release)
	if len(send) > 0 {
		if e := d.deliverEntries(ctx, c, sessions, send); err == nil {
			err = e
		}
	}
	if err != nil && ctx.Err() == nil {
		d.log.Warn("cannot release or acknowledge handed reports; their leases run out", zap.String("system_id", c.id), zap.Error(err))
	}
	return len(keep) == 0
}
