package mux

import (
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

// canLease reports whether st can store reports leased to this instance
// for a handoff (dispatch_handoff.go): it must be a store.LeasedEnqueuer,
// and a store.LeasedJointWriter too when it is a store.JointWriter, since
// the Intake then writes reports with PutIDsEnqueue.
func canLease(st store.Store) bool {
	if _, ok := st.(store.LeasedEnqueuer); !ok {
		return false
	}
	if _, ok := st.(store.JointWriter); ok {
		_, ok = st.(store.LeasedJointWriter)
		return ok
	}
	return true
}

// handoffSlot is how many entries a client's slot may hold beyond its
// sessions' windows: one report batch.
const handoffSlot = 512

// handoffPlan says which of items the store should enqueue leased to this
// instance, for their clients' dispatchers to deliver without fetching
// them: those of clients with a receiver session bound here and nothing
// waiting for Fetch in the store (client.backlog), as many as the
// sessions' windows have room for plus handoffSlot, less what waits in
// the client's slot already. It returns nil when there are none, or the
// store cannot lease. A report the plan leaves out is stored unleased, as
// before, for whichever instance's dispatcher fetches it, and marks its
// client's backlog: the next reports go the same way until the
// dispatcher has fetched the queue empty, so that they reach the client
// in about the order they came.
func (in *Intake) handoffPlan(items []store.Item) []bool {
	if !in.canLease {
		return nil
	}
	lv := in.live.Load()
	var (
		leased   []bool
		room     map[*client]int
		sessions []*binding
	)
	for i, it := range items {
		c := lv.byID[it.Client]
		if c == nil {
			continue // the orphan queue, or a client removed by a reload
		}
		r, ok := room[c]
		if !ok {
			if !c.backlog.Load() {
				sessions = c.receivers(sessions[:0])
				if len(sessions) > 0 {
					r = handoffSlot - c.handedLen()
				}
				for _, b := range sessions {
					r += b.s.WindowFree()
				}
			}
			if room == nil {
				room = make(map[*client]int, 1)
			}
		}
		if r > 0 {
			if leased == nil {
				leased = make([]bool, len(items))
			}
			leased[i] = true
			r--
		} else {
			c.backlog.Store(true)
		}
		room[c] = r
	}
	return leased
}

// handOver puts the reports stored leased (ids[i] != "") into their
// clients' slots, as entries enqueued at at (no later than their leases
// began). Those of a client a reload removed meanwhile stay leased until
// their lease runs out.
func (in *Intake) handOver(items []store.Item, ids []string, at time.Time) {
	lv := in.live.Load()
	var (
		client  string
		entries []store.Entry
	)
	flush := func() {
		if c := lv.byID[client]; c != nil && len(entries) > 0 {
			in.metrics.handedOver.Add(uint64(len(entries)))
			c.hand(entries)
		}
		entries = nil
	}
	for i, it := range items {
		if i >= len(ids) || ids[i] == "" {
			continue
		}
		if it.Client != client {
			flush()
			client = it.Client
		}
		entries = append(entries, store.Entry{ID: ids[i], Kind: it.Kind, Frame: it.Frame, Enqueued: at})
	}
	flush()
}
