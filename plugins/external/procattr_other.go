//go:build !linux

package external

import "os/exec"

// dieWithMux has no portable equivalent off Linux; a plugin outlives a
// mux killed by SIGKILL there.
func dieWithMux(*exec.Cmd) {}
