package mux_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
)

// countRule is a test rule that counts the messages it sees through
// Context.EventCounter; with fail set its Provision fails.
type countRule struct {
	Fail bool `toml:"fail"`
	seen *module.EventCounter
}

func init() { module.Register(new(countRule)) }

func (*countRule) MuxModule() module.Info {
	return module.Info{ID: "rule.count_test", New: func() module.Module { return new(countRule) }}
}

func (r *countRule) Provision(ctx module.Context) error {
	r.seen = ctx.EventCounter("seen")
	if r.Fail {
		return errors.New("told to fail")
	}
	return nil
}

func (r *countRule) Submit(*module.Message) error {
	r.seen.Add(1)
	return nil
}

// seen returns the "seen" counter of each rule.count_test of client, by
// position, as RuleCounters reports them.
func seen(m *mux.Mux, client string) map[int]uint64 {
	out := map[int]uint64{}
	for _, rc := range m.RuleCounters() {
		if rc.Client == client && rc.Module == "count_test" && rc.Event == "seen" {
			out[rc.Rule] = rc.Value
		}
	}
	return out
}

// countClient is client "counted" with rule.count_test at the positions
// where rules is true, deliver_tag_test elsewhere.
func countClient(rules ...bool) string {
	s := "[[client]]\nsystem_id = \"counted\"\npassword = \"pw\"\n"
	for _, counting := range rules {
		if counting {
			s += "  [[client.rule]]\n  module = \"count_test\"\n"
		} else {
			s += "  [[client.rule]]\n  module = \"deliver_tag_test\"\n"
		}
	}
	return s
}

func TestRuleEventCounters(t *testing.T) {
	h := newHarness(t, countClient(true, true))
	c := h.dial("counted", "pw", esme.Options{})
	submit := func() {
		t.Helper()
		if st, _, err := c.Submit(ctxT(t), sm("4512345678", false, "hi")); err != nil || st != 0 {
			t.Fatalf("submit: %v %v", st, err)
		}
	}
	check := func(step string, want map[int]uint64) {
		t.Helper()
		if got := seen(h.mux, "counted"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: seen %v, want %v", step, got, want)
		}
	}
	submit()
	submit()
	check("two rules of one module", map[int]uint64{0: 2, 1: 2})

	if err := h.reload(clientsTOML + countClient(true, true)); err != nil {
		t.Fatal(err)
	}
	check("reloaded", map[int]uint64{0: 2, 1: 2})
	submit()
	check("reloaded, one more submit", map[int]uint64{0: 3, 1: 3})

	// A reload that fails to provision changes nothing.
	failing := clientsTOML + countClient(true, true) + "  [[client.rule]]\n  module = \"count_test\"\n  fail = true\n"
	if err := h.reload(failing); err == nil {
		t.Fatal("reload with a failing rule: no error")
	}
	check("failed reload", map[int]uint64{0: 3, 1: 3})

	// Another module at position 1 is another rule instance: the counter
	// of count_test there goes away.
	if err := h.reload(clientsTOML + countClient(true, false)); err != nil {
		t.Fatal(err)
	}
	submit()
	check("rule 1 replaced", map[int]uint64{0: 4})
	for _, rc := range h.mux.RuleCounters() {
		if rc.Client == "counted" && rc.Rule == 1 {
			t.Fatalf("a counter of the replaced rule 1 is still reported: %+v", rc)
		}
	}
}

// Outside a mux, a module's counter is its own.
func TestEventCounterOutsideMux(t *testing.T) {
	ctx, cancel := module.NewContext(context.Background(), nil)
	defer cancel()
	a, b := new(countRule), new(countRule)
	for _, r := range []*countRule{a, b} {
		if err := ctx.LoadModule("rule.count_test", r); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Submit(nil)
	if a.seen.Load() != 1 || b.seen.Load() != 0 {
		t.Fatalf("seen %d and %d, want 1 and 0", a.seen.Load(), b.seen.Load())
	}
	if err := ctx.Cleanup(); err != nil {
		t.Fatal(err)
	}
	never := new(countRule)
	never.seen.Add(1) // never provisioned: counts nothing, and does not panic
	if never.seen.Load() != 0 {
		t.Fatal("a nil counter counted")
	}
}
