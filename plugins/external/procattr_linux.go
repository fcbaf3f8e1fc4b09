package external

import (
	"os/exec"
	"syscall"
)

// dieWithMux asks the kernel to kill the plugin when the mux dies, even by
// SIGKILL, so plugins never outlive it and pile up across crashes. (Linux
// sends it when the thread that started the child ends; the Go runtime
// keeps its threads for the life of the process unless a goroutine exits
// while locked to one, which the mux never does.)
func dieWithMux(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
