package module

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
	cleanup *[]CleanerUpper // what was provisioned under this config, in order
	place   Place           // where the module being provisioned sits; nil outside a host's rule list
	module  string          // the ID of the module being provisioned
}

// Place is where a host (the mux) provisions a module: for a rule, its
// client and its position in the client's list. The host keeps the
// place's event counters, which outlive the modules that add to them.
// Implementations are comparable values.
type Place interface {
	// Counter returns the counter of event of the module named name (the
	// part of its ID after the dot) at this place, and a CleanerUpper that
	// releases the config's hold on it.
	Counter(name, event string) (*EventCounter, CleanerUpper)
	// Key returns a comparable value naming the module called name at
	// this place.
	Key(name string) any
}

// TokenBucket is a token bucket that Allow takes a token from, when there
// is one. It is safe for concurrent use.
type TokenBucket interface {
	Allow() bool
}

// BucketPlace is a Place whose host shares token buckets among its
// instances: the mux, when several instances share one store.
type BucketPlace interface {
	Place
	// FleetBucket returns the bucket of rate per second and burst that
	// every instance draws from for the module at this place, or nil
	// when the host has none to share.
	FleetBucket(rate float64, burst int) TokenBucket
}

// FleetBucket returns a token bucket of rate per second and burst that
// every instance of the host shares for the rule being provisioned (its
// client and position), when the host shares its limits (BucketPlace);
// otherwise, and outside a Place, nil: the module keeps a local limiter.
func (c Context) FleetBucket(rate float64, burst int) TokenBucket {
	if p, ok := c.place.(BucketPlace); ok {
		return p.FleetBucket(rate, burst)
	}
	return nil
}

// NewContext returns a Context for provisioning modules, as the mux, tests
// and tools do. cancel it to stop background work; call Cleanup to release
// the modules it provisioned.
func NewContext(parent context.Context, log *zap.Logger) (Context, context.CancelFunc) {
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(parent)
	return Context{Context: ctx, log: log, cleanup: new([]CleanerUpper)}, cancel
}

// Logger returns the logger of the module being provisioned.
func (c Context) Logger() *zap.Logger { return c.log }

// At returns a copy of c for provisioning modules at place p: the rule of
// a client at a position, whose counters p keeps.
func (c Context) At(p Place) Context {
	c.place = p
	return c
}

// withModule returns a copy whose logger is named for a module.
func (c Context) withModule(id string) Context {
	c.log = c.log.Named(id)
	c.module = id
	return c
}

// EventCounter returns the counter of event (e.g. "calls") of the module
// being provisioned; the mux exports a rule's counters as
// smppmux_rule_events_total{client,rule,module,event}, rule being the
// rule's position in the client's list. A module calls it from
// Provision, once per event, and adds to the counter per message.
//
// A rule instance is its client, its position and its module: a reload
// that keeps a rule at its place hands the new module the same counter,
// so its counts go on and never go down. Counters of rules no config
// holds any more stop being exported. Outside a Place (a store,
// NewContext) the counter is the module's own and not exported.
func (c Context) EventCounter(event string) *EventCounter {
	if c.place == nil {
		return new(EventCounter)
	}
	ec, release := c.place.Counter(Info{ID: c.module}.Name(), event)
	*c.cleanup = append(*c.cleanup, release)
	return ec
}

// RuleInstance returns a comparable value naming the rule instance being
// provisioned: its mux, its client, its position and its module, as
// EventCounter's counters are named. A module that keeps something costly
// (a process) across a reload that leaves the rule in place looks it up
// by this key together with its own settings, and shares it between the
// old and the new module, reference-counted (Caddy's UsagePool). ok is
// false outside a Place, where nothing is shared.
func (c Context) RuleInstance() (key any, ok bool) {
	if c.place == nil {
		return nil, false
	}
	return c.place.Key(Info{ID: c.module}.Name()), true
}

// LoadModule provisions and validates a decoded module, recording it for
// Cleanup. Every error it returns is prefixed with the module id. When
// Provision or Validate fails, the module's Cleanup runs before
// LoadModule returns, and the module is not recorded.
func (c Context) LoadModule(id string, m Module) error {
	err := c.load(id, m)
	if err == nil {
		if cu, ok := m.(CleanerUpper); ok {
			*c.cleanup = append(*c.cleanup, cu)
		}
		return nil
	}
	if cu, ok := m.(CleanerUpper); ok {
		if cerr := cu.Cleanup(); cerr != nil {
			err = fmt.Errorf("%w; cleanup: %w", err, cerr)
		}
	}
	return withID(id, err)
}

// load runs Provision and Validate, the ones m implements.
func (c Context) load(id string, m Module) error {
	if p, ok := m.(Provisioner); ok {
		if err := p.Provision(c.withModule(id)); err != nil {
			return err
		}
	}
	if v, ok := m.(Validator); ok {
		return v.Validate()
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
