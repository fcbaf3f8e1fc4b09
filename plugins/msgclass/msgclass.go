package msgclass

import (
	"fmt"
	"strings"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func init() { module.Register(new(MessageClass)) }

// maxClass bounds the class name; the provider's class names are short
// identifiers, and a bound keeps a typo from bloating every PDU.
const maxClass = 64

// MessageClass sets TLV message_class (0x2900, the provider's vendor tag)
// on every submit_sm of a client. It is safe for concurrent use: after
// Provision it only reads its fields.
type MessageClass struct {
	Class      string `toml:"class"`       // required: the class name
	KeepClient bool   `toml:"keep_client"` // leave a client-set value alone

	value []byte // Class as octets; read-only after Provision
}

var (
	_ module.Provisioner = (*MessageClass)(nil)
	_ module.Validator   = (*MessageClass)(nil)
	_ module.Rule        = (*MessageClass)(nil)
)

// MuxModule implements module.Module.
func (*MessageClass) MuxModule() module.Info {
	return module.Info{
		ID:  "rule.message_class",
		New: func() module.Module { return new(MessageClass) },
		Doc: "sets the provider's message_class TLV 0x2900 on every submit_sm",
	}
}

// Provision implements module.Provisioner.
func (mc *MessageClass) Provision(module.Context) error {
	mc.value = []byte(mc.Class)
	return nil
}

// Validate implements module.Validator.
func (mc *MessageClass) Validate() error {
	switch {
	case mc.Class == "":
		return fmt.Errorf("rule.message_class: class: missing")
	case len(mc.Class) > maxClass:
		return fmt.Errorf("rule.message_class: class: at most %d octets, got %d", maxClass, len(mc.Class))
	case strings.IndexByte(mc.Class, 0) >= 0:
		return fmt.Errorf("rule.message_class: class: must not contain NUL")
	}
	return nil
}

// Submit implements module.Rule. It never rejects.
func (mc *MessageClass) Submit(m *module.Message) error {
	if mc.KeepClient {
		if _, ok := m.SM.TLVs.Lookup(pdu.TagMessageClass); ok {
			return nil
		}
	}
	m.SetTLV(pdu.TagMessageClass, mc.value) // a no-op when the value is already there
	return nil
}
