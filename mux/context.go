package mux

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// Context is what a module gets in Provision: a context.Context that is
// cancelled when the config the module belongs to is replaced or stopped,
// and a logger named for the module. A module that runs background work may
// keep its Context; nothing else is kept from it.
type Context struct {
	context.Context
	log     *zap.Logger
	cleanup *[]CleanerUpper // modules provisioned under this config, in order
	events  *ruleEvents     // the mux's rule event counters; nil outside a mux
	rule    *ruleKey        // the rule instance being provisioned; nil for other modules
	module  string          // the ID of the module being provisioned
	fleet   *fleet          // the mux's fleet limits; nil without a shared store (fleet.go)
}

// NewContext returns a Context for provisioning modules outside a running
// mux, as tests and tools do. cancel it to stop background work; call
// Cleanup to release the modules it provisioned.
func NewContext(parent context.Context, log *zap.Logger) (Context, context.CancelFunc) {
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(parent)
	return Context{Context: ctx, log: log, cleanup: new([]CleanerUpper)}, cancel
}

// Logger returns the logger of the module being provisioned.
func (c Context) Logger() *zap.Logger { return c.log }

// withModule returns a copy whose logger is named for a module.
func (c Context) withModule(id string) Context {
	c.log = c.log.Named(id)
	c.module = id
	return c
}

// withRule returns a copy for provisioning the rule at position pos of
// client's [[client.rule]] list, whose counters are kept in events.
func (c Context) withRule(events *ruleEvents, client string, pos int) Context {
	c.events, c.rule = events, &ruleKey{client: client, pos: pos}
	return c
}

// EventCounter returns the counter of event (e.g. "calls") of the rule
// being provisioned; the mux exports it as
// smppmux_rule_events_total{client,rule,module,event}, rule being the
// rule's position in the client's list. A module calls it from
// Provision, once per event, and adds to the counter per message.
//
// A rule instance is its client, its position and its module: a reload
// that keeps a rule at its place hands the new module the same counter,
// so its counts go on and never go down. Counters of rules no config
// holds any more stop being exported. Outside a client's rule list (a
// store, NewContext) the counter is the module's own and not exported.
func (c Context) EventCounter(event string) *EventCounter {
	if c.events == nil || c.rule == nil {
		return new(EventCounter)
	}
	k := eventKey{ruleKey: *c.rule, event: event}
	k.module = ModuleInfo{ID: c.module}.Name()
	ec, release := c.events.acquire(k)
	*c.cleanup = append(*c.cleanup, release)
	return ec
}

// RuleInstance returns a comparable value naming the rule instance being
// provisioned: its mux, its client, its position and its module, as
// EventCounter's counters are named. A module that keeps something costly
// (a process) across a reload that leaves the rule in place looks it up
// by this key together with its own settings, and shares it between the
// old and the new module, reference-counted (Caddy's UsagePool). ok is
// false outside a client's rule list, where nothing is shared.
func (c Context) RuleInstance() (key any, ok bool) {
	if c.events == nil || c.rule == nil {
		return nil, false
	}
	k := *c.rule
	k.module = ModuleInfo{ID: c.module}.Name()
	return ruleInstance{events: c.events, ruleKey: k}, true
}

// ruleInstance is RuleInstance's key: the mux (its counters) and the
// rule's place.
type ruleInstance struct {
	events *ruleEvents
	ruleKey
}

// LoadModule provisions and validates a decoded module, recording it for
// Cleanup. On failure the module is cleaned up at once.
func (c Context) LoadModule(id string, m Module) error {
	mc := c.withModule(id)
	if cu, ok := m.(CleanerUpper); ok {
		*c.cleanup = append(*c.cleanup, cu)
	}
	if p, ok := m.(Provisioner); ok {
		if err := p.Provision(mc); err != nil {
			return withID(id, err)
		}
	}
	if v, ok := m.(Validator); ok {
		if err := v.Validate(); err != nil {
			return withID(id, err)
		}
	}
	return nil
}

// withID prefixes err with the module id, unless the module's own
// message already starts with it.
func withID(id string, err error) error {
	if strings.HasPrefix(err.Error(), id) {
		return err
	}
	return fmt.Errorf("%s: %w", id, err)
}

// Cleanup calls Cleanup on every module provisioned under c, last first,
// and returns their errors joined.
func (c Context) Cleanup() error {
	var errs []error
	list := *c.cleanup
	for i := len(list) - 1; i >= 0; i-- {
		if err := list[i].Cleanup(); err != nil {
			errs = append(errs, err)
		}
	}
	*c.cleanup = nil
	return errors.Join(errs...)
}
