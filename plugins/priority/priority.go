package priority

import (
	"fmt"

	"github.com/smpp-mux/smpp-mux/module"
)

func init() { module.Register(new(Priority)) }

// maxFlag is the highest priority_flag of SMPP 3.4 §5.2.14.
const maxFlag = 3

// Priority caps or sets priority_flag on every submit_sm of a client. It is
// safe for concurrent use: after Provision it only reads its fields.
type Priority struct {
	Max *int `toml:"max"` // cap; nil when absent
	Set *int `toml:"set"` // forced value; nil when absent

	// resolved by Provision; read-only after
	max    byte
	set    byte
	hasMax bool
	hasSet bool
}

var (
	_ module.Provisioner = (*Priority)(nil)
	_ module.Validator   = (*Priority)(nil)
	_ module.Rule        = (*Priority)(nil)
)

// MuxModule implements module.Module.
func (*Priority) MuxModule() module.Info {
	return module.Info{
		ID:  "rule.priority",
		New: func() module.Module { return new(Priority) },
		Doc: "caps (max) or forces (set) the priority_flag of every submit_sm",
	}
}

// Provision implements module.Provisioner. Values out of range are left for
// Validate to report.
func (p *Priority) Provision(module.Context) error {
	if p.Max != nil {
		p.hasMax, p.max = true, byte(*p.Max)
	}
	if p.Set != nil {
		p.hasSet, p.set = true, byte(*p.Set)
	}
	return nil
}

// Validate implements module.Validator.
func (p *Priority) Validate() error {
	if p.Max == nil && p.Set == nil {
		return fmt.Errorf("rule.priority: max or set is needed")
	}
	for _, k := range []struct {
		key string
		v   *int
	}{{"max", p.Max}, {"set", p.Set}} {
		if k.v != nil && (*k.v < 0 || *k.v > maxFlag) {
			return fmt.Errorf("rule.priority: %s: must be 0-%d, got %d", k.key, maxFlag, *k.v)
		}
	}
	if p.Max != nil && p.Set != nil && *p.Set > *p.Max {
		return fmt.Errorf("rule.priority: set: %d is above max %d", *p.Set, *p.Max)
	}
	return nil
}

// Submit implements module.Rule. It never rejects.
func (p *Priority) Submit(m *module.Message) error {
	switch {
	case p.hasSet:
		m.SetPriority(p.set)
	case p.hasMax && m.SM.PriorityFlag > p.max:
		m.SetPriority(p.max)
	}
	return nil
}
