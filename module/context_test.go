package module_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/module"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// probe is a module whose Provision and Validate fail on demand and
// which records its Cleanup calls in a shared log.
type probe struct {
	name                 string
	provisionErr, valErr error
	cleanupErr           error
	log                  *[]string
	provisioned, cleaned int
}

func (*probe) MuxModule() module.Info {
	return module.Info{ID: "rule.probe_test", New: func() module.Module { return new(probe) }}
}

func (p *probe) Provision(module.Context) error { p.provisioned++; return p.provisionErr }
func (p *probe) Validate() error                { return p.valErr }
func (p *probe) Cleanup() error {
	p.cleaned++
	*p.log = append(*p.log, p.name)
	return p.cleanupErr
}

// TestLoadModuleFailure checks that a failed Provision or Validate
// returns an error naming the module, cleans the module up at once, and
// leaves it out of the Context's Cleanup.
func TestLoadModuleFailure(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name string
		p    probe
		want string
	}{
		{"provision", probe{provisionErr: errBoom}, "rule.probe_test: boom"},
		{"validate", probe{valErr: errBoom}, "rule.probe_test: boom"},
		{"cleanup fails too", probe{valErr: errBoom, cleanupErr: errors.New("stuck")}, "rule.probe_test: boom; cleanup: stuck"},
		{"message names the id", probe{provisionErr: errors.New("rule.probe_test: own words")}, "rule.probe_test: own words"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := module.NewContext(context.Background(), nil)
			defer cancel()
			var log []string
			p := tc.p
			p.name, p.log = "p", &log
			err := ctx.LoadModule(p.MuxModule().ID, &p)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("LoadModule: %v; want %q", err, tc.want)
			}
			if tc.p.provisionErr == nil && !errors.Is(err, errBoom) {
				t.Fatalf("%v does not wrap the module's error", err)
			}
			if p.cleaned != 1 {
				t.Fatalf("Cleanup ran %d times by LoadModule; want 1", p.cleaned)
			}
			if err := ctx.Cleanup(); err != nil {
				t.Fatal(err)
			}
			if p.cleaned != 1 {
				t.Fatalf("Context.Cleanup cleaned the failed module again (%d calls)", p.cleaned)
			}
		})
	}
}

// TestCleanupOrder checks that Context.Cleanup cleans up every module
// loaded without error, last first, once.
func TestCleanupOrder(t *testing.T) {
	ctx, cancel := module.NewContext(context.Background(), nil)
	defer cancel()
	var log []string
	mods := []*probe{{name: "a", log: &log}, {name: "b", log: &log, valErr: errors.New("bad")}, {name: "c", log: &log}}
	for _, p := range mods {
		_ = ctx.LoadModule(p.MuxModule().ID, p)
	}
	if err := ctx.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ","); got != "b,c,a" {
		t.Fatalf("cleanups %s; want b (at its failure), then c,a (last first)", got)
	}
	if err := ctx.Cleanup(); err != nil || len(log) != 3 {
		t.Fatalf("a second Cleanup: %v, %d cleanups", err, len(log))
	}
}

// place keeps counters by module name and event, as the mux does per rule.
type place struct {
	pos      int
	counters map[string]*module.EventCounter
	released *int
}

func (p place) Counter(name, event string) (*module.EventCounter, module.CleanerUpper) {
	k := name + "/" + event
	if p.counters[k] == nil {
		p.counters[k] = new(module.EventCounter)
	}
	return p.counters[k], releaser{p.released}
}

func (p place) Key(name string) any { return [2]any{p.pos, name} }

type releaser struct{ n *int }

func (r releaser) Cleanup() error { *r.n++; return nil }

// counting takes a counter and its instance key in Provision.
type counting struct {
	calls *module.EventCounter
	key   any
	ok    bool
}

func (*counting) MuxModule() module.Info {
	return module.Info{ID: "rule.counting_test", New: func() module.Module { return new(counting) }}
}

func (c *counting) Provision(ctx module.Context) error {
	c.calls = ctx.EventCounter("calls")
	c.key, c.ok = ctx.RuleInstance()
	return nil
}

// TestPlace checks that a module provisioned At a place gets the place's
// counter and key, named by the module's name, and that the config's hold
// on the counter is released by Cleanup; outside a place the counter is
// the module's own.
func TestPlace(t *testing.T) {
	ctx, cancel := module.NewContext(context.Background(), nil)
	defer cancel()
	released := 0
	p := place{pos: 3, counters: map[string]*module.EventCounter{}, released: &released}
	in, out := new(counting), new(counting)
	if err := ctx.At(p).LoadModule("rule.counting_test", in); err != nil {
		t.Fatal(err)
	}
	if err := ctx.LoadModule("rule.counting_test", out); err != nil {
		t.Fatal(err)
	}
	in.calls.Add(2)
	out.calls.Add(5)
	if got := p.counters["counting_test/calls"].Load(); got != 2 {
		t.Fatalf("place counter %d; want 2", got)
	}
	if !in.ok || in.key != [2]any{3, "counting_test"} {
		t.Fatalf("RuleInstance at the place: %v %v", in.key, in.ok)
	}
	if out.ok || out.calls.Load() != 5 {
		t.Fatalf("outside a place: key ok %v, own counter %d", out.ok, out.calls.Load())
	}
	if err := ctx.Cleanup(); err != nil || released != 1 {
		t.Fatalf("Cleanup: %v, %d releases; want 1", err, released)
	}
}
