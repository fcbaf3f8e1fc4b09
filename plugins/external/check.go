package external

import (
	"fmt"
	"os/exec"

	"github.com/smpp-mux/smpp-mux/module"
)

var _ module.Checker = (*Plugin)(nil)

// Check implements module.Checker: the command must be an executable file,
// found as exec.Command would find it (through PATH when it has no
// slash). Whether it speaks the plugin protocol shows only when it starts.
func (p *Plugin) Check() error {
	if len(p.Command) == 0 {
		return nil // reported by Validate
	}
	if _, err := exec.LookPath(p.Command[0]); err != nil {
		return &module.KeyError{Key: "command", Err: fmt.Errorf("rule.plugin: %w", err)}
	}
	return nil
}
