package sender

import (
	"fmt"
	"strings"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func init() { module.Register(new(Sender)) }

// maxAddr is the longest source_addr: 21 octets with the NUL (SMPP 3.4 §4.4.1).
const maxAddr = 20

// errInvSrcAddr is every refusal: one value, so that a refusal costs no
// allocation. Nobody may modify it.
var errInvSrcAddr = &pdu.StatusError{Status: pdu.StatusInvSrcAddr, Reason: "rule.sender: source_addr not allowed for this client"}

// Sender refuses a submit_sm whose source_addr is not allowed, and sets a
// forced one. It is safe for concurrent use: after Provision it only reads
// its fields.
type Sender struct {
	Allow []string `toml:"allow"` // allowed source_addr values; empty: any
	Force *string  `toml:"force"` // source_addr set on every submit; nil: none

	allow map[string]struct{} // from Allow; nil when any is allowed; read-only after Provision
	force string
}

var (
	_ module.Provisioner = (*Sender)(nil)
	_ module.Validator   = (*Sender)(nil)
	_ module.Rule        = (*Sender)(nil)
)

// MuxModule implements module.Module.
func (*Sender) MuxModule() module.Info {
	return module.Info{
		ID:  "rule.sender",
		New: func() module.Module { return new(Sender) },
		Doc: "refuses a source_addr not in allow with 0x0A, or sets a forced one",
	}
}

// Provision implements module.Provisioner.
func (s *Sender) Provision(module.Context) error {
	if len(s.Allow) > 0 {
		s.allow = make(map[string]struct{}, len(s.Allow))
		for _, a := range s.Allow {
			s.allow[a] = struct{}{}
		}
	}
	if s.Force != nil {
		s.force = *s.Force
	}
	return nil
}

// Validate implements module.Validator.
func (s *Sender) Validate() error {
	if len(s.Allow) == 0 && s.Force == nil {
		return fmt.Errorf("rule.sender: allow or force is needed")
	}
	for i, a := range s.Allow {
		if err := checkAddr(a, false); err != nil {
			return fmt.Errorf("rule.sender: allow[%d]: %w", i, err)
		}
	}
	if s.Force != nil {
		if err := checkAddr(*s.Force, true); err != nil {
			return fmt.Errorf("rule.sender: force: %w", err)
		}
	}
	return nil
}

// checkAddr checks that a fits source_addr.
func checkAddr(a string, needed bool) error {
	switch {
	case needed && a == "":
		return fmt.Errorf("must not be empty")
	case len(a) > maxAddr:
		return fmt.Errorf("at most %d octets, got %d (%q)", maxAddr, len(a), a)
	case strings.IndexByte(a, 0) >= 0:
		return fmt.Errorf("must not contain NUL")
	}
	return nil
}

// Submit implements module.Rule.
func (s *Sender) Submit(m *module.Message) error {
	if s.allow != nil {
		if _, ok := s.allow[string(m.SM.SourceAddr)]; !ok {
			return errInvSrcAddr
		}
	}
	if s.Force != nil {
		m.SetSourceAddr(s.force) // a no-op when it is already the value
	}
	return nil
}
