package encodingcheck

import (
	"fmt"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func init() { module.Register(new(Check)) }

// supported marks the data_coding values the provider takes on submit_sm
// (seed/gatewayapi-smpp.txt, MT "Coding Schemes").
var supported = func() (t [256]bool) {
	for _, dc := range []byte{0, 1, 2, 3, 4, 6, 8, 24, 240} {
		t[dc] = true
	}
	return t
}()

// Check refuses a submit_sm whose data_coding the provider does not take
// or whose text does not decode under it. It is safe for concurrent use:
// after Provision it only reads its fields.
type Check struct {
	Status *int64 `toml:"status"` // nil: ESME_RSUBMITFAIL

	// built by Provision, one per reason, so a refusal costs no
	// allocation; read-only after
	errDataCoding *pdu.StatusError
	errText       *pdu.StatusError
}

var (
	_ module.Provisioner = (*Check)(nil)
	_ module.Validator   = (*Check)(nil)
	_ module.Rule        = (*Check)(nil)
)

// MuxModule implements module.Module.
func (*Check) MuxModule() module.Info {
	return module.Info{
		ID:  "rule.encoding_check",
		New: func() module.Module { return new(Check) },
		Doc: "refuses a data_coding the provider does not take, or text that does not decode under it",
	}
}

// Provision implements module.Provisioner. A status out of range is left for
// Validate to report.
func (c *Check) Provision(module.Context) error {
	st := pdu.StatusSubmitFail
	if c.Status != nil {
		st = pdu.Status(*c.Status)
	}
	c.errDataCoding = &pdu.StatusError{Status: st, Reason: "rule.encoding_check: data_coding not supported by the provider"}
	c.errText = &pdu.StatusError{Status: st, Reason: "rule.encoding_check: text does not decode under its data_coding"}
	return nil
}

// Validate implements module.Validator.
func (c *Check) Validate() error {
	if c.Status != nil && (*c.Status < 1 || *c.Status > 0xFFFFFFFF) {
		return fmt.Errorf("rule.encoding_check: status: must be 0x01-0xFFFFFFFF, got %d", *c.Status)
	}
	return nil
}

// Submit implements module.Rule. It never changes the message.
func (c *Check) Submit(m *module.Message) error {
	dc := m.SM.DataCoding
	if !supported[dc] {
		return c.errDataCoding
	}
	text := m.SM.Text()
	if m.SM.ESMClass&pdu.ESMClassUDHI != 0 {
		// GSM 03.40 §9.2.3.24: the first octet is the header's length,
		// not counting itself.
		if len(text) == 0 || int(text[0]) >= len(text) {
			return c.errText
		}
		text = text[1+int(text[0]):]
	}
	if pdu.CheckText(dc, text) != nil {
		return c.errText
	}
	return nil
}
