package module

import "sync/atomic"

// EventCounter counts one kind of event of one rule instance: a plugin's
// calls, errors or restarts. Rules get theirs from Context.EventCounter
// in Provision and add to it per message: an atomic add, nothing more.
// The mux exports it as smppmux_rule_events_total.
type EventCounter struct{ n atomic.Uint64 }

// Add adds n. On a nil *EventCounter (a module never provisioned) it does
// nothing.
func (c *EventCounter) Add(n uint64) {
	if c != nil {
		c.n.Add(n)
	}
}

// Load returns the count; 0 for a nil *EventCounter.
func (c *EventCounter) Load() uint64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}
