package destton

import (
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func init() { module.Register(new(DestTON)) }

// Type of number values of SMPP 3.4 §5.2.5 that the provider takes.
const (
	tonUnknown       = 0x00
	tonInternational = 0x01
)

// errInvDstTON is every reject: one value, so that a reject costs no
// allocation. Nobody may modify it.
var errInvDstTON = &pdu.StatusError{Status: pdu.StatusInvDstTON, Reason: "rule.dest_ton: the provider takes dest_addr_ton 0 and 1 only"}

// DestTON rewrites dest_addr_ton 0 to 1 and refuses values other than 0
// and 1. It is safe for concurrent use: after Provision it only reads its
// fields.
type DestTON struct {
	RewriteUnknown *bool `toml:"rewrite_unknown"` // nil: default true

	rewrite bool // resolved by Provision; read-only after
}

var (
	_ module.Provisioner = (*DestTON)(nil)
	_ module.Rule        = (*DestTON)(nil)
)

// MuxModule implements module.Module.
func (*DestTON) MuxModule() module.Info {
	return module.Info{
		ID:  "rule.dest_ton",
		New: func() module.Module { return new(DestTON) },
		Doc: "rewrites dest_addr_ton 0 to 1 and refuses other values than 0 and 1 with 0x50",
	}
}

// Provision implements module.Provisioner. There is nothing to validate: every
// decoded value is valid.
func (d *DestTON) Provision(module.Context) error {
	d.rewrite = d.RewriteUnknown == nil || *d.RewriteUnknown
	return nil
}

// Submit implements module.Rule.
func (d *DestTON) Submit(m *module.Message) error {
	switch m.SM.DestTON {
	case tonInternational:
		return nil
	case tonUnknown:
		if d.rewrite {
			m.SetDestTON(tonInternational)
		}
		return nil
	}
	return errInvDstTON
}
