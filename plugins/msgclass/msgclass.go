package msgclass

import (
	"fmt"
	"strings"

	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func init() { mux.RegisterModule(new(MessageClass)) }

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
	_ mux.Provisioner = (*MessageClass)(nil)
	_ mux.Validator   = (*MessageClass)(nil)
	_ mux.Rule        = (*MessageClass)(nil)
)

// MuxModule implements mux.Module.
func (*MessageClass) MuxModule() mux.ModuleInfo {
	return mux.ModuleInfo{
		ID:  "rule.message_class",
		New: func() mux.Module { return new(MessageClass) },
		Doc: "sets the provider's message_class TLV 0x2900 on every submit_sm",
	}
}

// Provision implements mux.Provisioner.
func (mc *MessageClass) Provision(mux.Context) error {
	mc.value = []byte(mc.Class)
	return nil
}

// Validate implements mux.Validator.
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

// Submit implements mux.Rule. It never rejects.
func (mc *MessageClass) Submit(m *mux.Message) error {
	if mc.KeepClient {
		if _, ok := m.SM.TLVs.Lookup(pdu.TagMessageClass); ok {
			return nil
		}
	}
	m.SetTLV(pdu.TagMessageClass, mc.value) // a no-op when the value is already there
	return nil
}
