// Command smpp-mux is the SMPP multiplexer: run, validate, demo,
// simulate, modules, hash-password, version.
//
// Flags are parsed with the standard flag package, one FlagSet per
// command (cli.go): it takes both --name and -name, so scripts written
// for either keep working, and help and errors print the --name form.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// exitError carries an exit code: 2 for usage and config errors, 1 for
// runtime failures; 0 when --help was asked for and printed.
type exitError struct {
	code  int
	err   error
	usage bool // a flag or argument is wrong: print the command's usage line too
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// flagErr is a usageErr about the command line: it is followed by the
// command's usage line.
func flagErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...), usage: true}
}

// command is one subcommand as help lists it.
type command struct {
	name     string
	synopsis string // its arguments, e.g. "--config FILE"
	summary  string // one line
	more     string // what --help says beside the flags, or ""
}

// commands are the subcommands, in the order help lists them.
var commands = []command{
	{"run", "--config FILE | FILE", "run the mux in the foreground", "SIGINT and SIGTERM stop it gracefully; SIGHUP reloads the config file."},
	{"validate", "--config FILE | FILE", "check a config file (exit 0 valid, 2 invalid)", ""},
	{"demo", "[--listen ADDR] [--admin ADDR]", "the mux in front of two simulated provider hosts", `It prints the credentials of its two clients and the admin URL. A
submit_sm to 4500000000 comes back to the sender as an MO.`},
	{"simulate", "--listen ADDR", "the provider simulator alone", ""},
	{"modules", "[--json]", "list the registered modules", ""},
	{"hash-password", "[--cost N]", "read a password, print its bcrypt hash", `On a terminal it asks twice without echo (on stderr); else it reads the
first line of stdin. The hash goes to stdout, for [[client]] password_hash.`},
	{"version", "", "print the version, the commit and the Go version", ""},
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage is the top-level help.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: smpp-mux <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-45s %s\n", strings.TrimSpace(c.name+" "+c.synopsis), c.summary)
	}
	b.WriteString(`
flags:
  -h, --help      this help
  --version       print the version, as the version command does

"smpp-mux <command> --help" lists the flags of a command.
Usage and config errors exit 2; runtime failures exit 1.
`)
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
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
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return 0
	case "-version", "--version":
		name, args = "version", args[:1]
	case "help": // help COMMAND is COMMAND --help
		if len(args) == 1 {
			fmt.Fprint(stdout, usage())
			return 0
		}
		name, args = args[1], []string{args[1], "--help"}
	}
	fn, ok := cmds[name]
	if !ok {
		what := "command"
		if strings.HasPrefix(name, "-") {
			what, name = "flag", "--"+strings.TrimLeft(name, "-")
		}
		fmt.Fprintf(stderr, "smpp-mux: unknown %s %q\n\n%s", what, name, usage())
		return 2
	}
	if err := fn(args[1:], stdin, stdout, stderr); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.code != 0 {
				fmt.Fprintf(stderr, "smpp-mux %s: %v\n", name, ee.err)
				if ee.usage {
					c, _ := lookupCommand(name)
					fmt.Fprintf(stderr, "usage: smpp-mux %s (--help lists the flags)\n", strings.TrimSpace(c.name+" "+c.synopsis))
				}
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "smpp-mux %s: %v\n", name, err)
		return 1
	}
	return 0
}
