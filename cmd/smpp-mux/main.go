// Command smpp-mux is the SMPP multiplexer: run, validate, demo,
// simulate, modules, hash-password, version.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// exitError carries an exit code: 2 for usage and config errors, 1 for
// runtime failures.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

const usage = `usage: smpp-mux <command> [flags]

commands:
  run --config FILE        run the mux in the foreground
  validate --config FILE   check a config file (exit 0 valid, 2 invalid)
  demo [--listen ADDR]     the mux in front of two simulated provider hosts
  simulate --listen ADDR   the provider simulator alone
  modules                  list the registered modules
  hash-password            read a password on stdin, print its bcrypt hash
  version                  print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Reader, io.Writer, io.Writer) error{
		"run":           cmdRun,
		"validate":      cmdValidate,
		"demo":          cmdDemo,
		"simulate":      cmdSimulate,
		"modules":       cmdModules,
		"hash-password": cmdHashPassword,
		"version":       cmdVersion,
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	fn, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "smpp-mux: unknown command %q\n\n%s", name, usage)
		return 2
	}
	if err := fn(args[1:], stdin, stdout, stderr); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			fmt.Fprintf(stderr, "smpp-mux %s: %v\n", name, ee.err)
			return ee.code
		}
		fmt.Fprintf(stderr, "smpp-mux %s: %v\n", name, err)
		return 1
	}
	return 0
}
