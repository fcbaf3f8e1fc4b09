package mux

import (
	"cmp"
	"slices"
	"sync"

	"github.com/smpp-mux/smpp-mux/module"
)

// ruleKey names a rule instance: its client, its place in the client's
// [[client.rule]] list and its module's name. A reload that keeps a rule
// at its place keeps its ruleKey, so the new module counts on where the
// old one left off.
type ruleKey struct {
	client string
	pos    int
	module string // the module's name: "plugin", "message_class"
}

// eventKey is one series of smppmux_rule_events_total.
type eventKey struct {
	ruleKey
	event string
}

// ruleEvents holds the EventCounters of the rule instances that some
// config of the running mux holds. A config acquires a counter when its
// module asks for it in Provision and releases it when the config is
// cleaned up: during a reload the old and the new config hold the same
// counter, and one that no config holds any more is forgotten. Counters
// outlive the modules that add to them, so they never go down while a
// rule stays at its place.
type ruleEvents struct {
	mu sync.Mutex // guards m
	m  map[eventKey]*eventEntry
}

type eventEntry struct {
	c    module.EventCounter
	refs int // configs (and modules in them) holding c; guarded by ruleEvents.mu
}

// acquire returns the counter of k, made on first use, and a release
// that forgets it once every holder has released it.
func (re *ruleEvents) acquire(k eventKey) (*module.EventCounter, module.CleanerUpper) {
	re.mu.Lock()
	defer re.mu.Unlock()
	if re.m == nil {
		re.m = map[eventKey]*eventEntry{}
	}
	e := re.m[k]
	if e == nil {
		e = &eventEntry{}
		re.m[k] = e
	}
	e.refs++
	var once sync.Once
	return &e.c, cleanupFunc(func() error {
		once.Do(func() {
			re.mu.Lock()
			defer re.mu.Unlock()
			if e.refs--; e.refs == 0 && re.m[k] == e {
				delete(re.m, k)
			}
		})
		return nil
	})
}

// RuleCounter is one counter of one rule instance: the rule at position
// Rule (from 0, in config order) of client Client, of module Module.
type RuleCounter struct {
	Client string
	Rule   int
	Module string // the module's name, as in module = "plugin"
	Event  string
	Value  uint64
}

// snapshot returns every counter held, sorted by client, rule and event.
func (re *ruleEvents) snapshot() []RuleCounter {
	re.mu.Lock()
	out := make([]RuleCounter, 0, len(re.m))
	for k, e := range re.m {
		out = append(out, RuleCounter{Client: k.client, Rule: k.pos, Module: k.module, Event: k.event, Value: e.c.Load()})
	}
	re.mu.Unlock()
	slices.SortFunc(out, func(a, b RuleCounter) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Module, b.Module), cmp.Compare(a.Event, b.Event))
	})
	return out
}

// RuleCounters returns the event counters of the rules of the live
// config (and, during a reload, of the one being replaced), one per rule
// instance and event. Modules count events through Context.EventCounter.
func (m *Mux) RuleCounters() []RuleCounter { return m.ruleEvents.snapshot() }

// cleanupFunc makes a CleanerUpper of a function.
type cleanupFunc func() error

func (f cleanupFunc) Cleanup() error { return f() }

// rulePlace is where a rule sits in a config: its client and position,
// and the mux's counters. module.Context.At takes it when the mux
// provisions the rule, and keys the rule's counters and RuleInstance by
// it.
type rulePlace struct {
	events *ruleEvents
	fleet  *fleet // shares the rule's buckets over the fleet; nil without a shared store
	ruleKey
}

// place returns the place of the rule at position pos of client's list.
func (re *ruleEvents) place(client string, pos int, f *fleet) module.Place {
	return rulePlace{events: re, fleet: f, ruleKey: ruleKey{client: client, pos: pos}}
}

// Counter implements module.Place.
func (p rulePlace) Counter(name, event string) (*module.EventCounter, module.CleanerUpper) {
	k := eventKey{ruleKey: p.ruleKey, event: event}
	k.module = name
	return p.events.acquire(k)
}

// Key implements module.Place.
func (p rulePlace) Key(name string) any {
	p.module = name
	return p
}
