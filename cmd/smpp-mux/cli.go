package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
)

// flags is the FlagSet of one command. It takes --name and -name alike
// (the standard flag package's rule) and prints help with --name.
type flags struct {
	*flag.FlagSet
	cmd    command
	stdout io.Writer // where --help goes
}

// newFlags returns the FlagSet of the command name, which must be in
// commands. --help prints to stdout.
func newFlags(name string, stdout io.Writer) *flags {
	c, ok := lookupCommand(name)
	if !ok {
		panic("smpp-mux: no command " + name)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors and help itself
	return &flags{FlagSet: fs, cmd: c, stdout: stdout}
}

// parse parses args. --help (or -h) prints the help and returns an
// exitError with code 0; a bad flag or a stray argument is a flagErr.
func (f *flags) parse(args []string) error {
	_, err := f.parsePositional(args, 0)
	return err
}

// parseConfig parses args of a command that reads a config file, given
// as --config FILE or as its one argument, and sets *path to it.
func (f *flags) parseConfig(args []string, path *string) error {
	pos, err := f.parsePositional(args, 1)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && *path != "":
		return flagErr("the config file given twice: --config %q and %q", *path, pos[0])
	case len(pos) == 1:
		*path = pos[0]
	case *path == "":
		return flagErr("a config file is required: --config FILE, or FILE")
	}
	return nil
}

// parsePositional parses args, flags before and after at most max
// arguments, which it returns.
func (f *flags) parsePositional(args []string, max int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.printHelp(f.stdout)
				return nil, &exitError{code: 0, err: err}
			}
			return nil, flagErr("%s", doubleDash(err.Error()))
		}
		if f.NArg() == 0 {
			return pos, nil
		}
		if len(pos) == max {
			return nil, flagErr("unexpected argument %q", f.Arg(0))
		}
		pos = append(pos, f.Arg(0))
		args = f.Args()[1:]
	}
}

// singleDash is a flag name in the standard package's messages, e.g.
// "flag provided but not defined: -cost".
var singleDash = regexp.MustCompile(`(^|[\s:])-([A-Za-z][\w-]*)`)

// doubleDash rewrites the flag names in a message of the flag package to
// the --name form the help uses.
func doubleDash(msg string) string {
	msg = strings.Replace(msg, "flag provided but not defined:", "unknown flag", 1)
	return singleDash.ReplaceAllString(msg, "$1--$2")
}

// printHelp writes the usage line, the summary and every flag.
func (f *flags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: smpp-mux %s\n\n%s.\n", strings.TrimSpace(f.cmd.name+" "+f.cmd.synopsis), upperFirst(f.cmd.summary))
	if f.cmd.more != "" {
		fmt.Fprintf(w, "%s\n", f.cmd.more)
	}
	fmt.Fprint(w, "\nflags:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	f.VisitAll(func(fl *flag.Flag) {
		arg, text := flag.UnquoteUsage(fl)
		if arg != "" { // bool flags have none
			arg = " " + arg
		}
		if !zeroDefault(fl.DefValue) {
			text += fmt.Sprintf(" (default %s)", quoteDefault(fl))
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", fl.Name, arg, text)
	})
	fmt.Fprintf(tw, "  -h, --help\tthis help\n")
	_ = tw.Flush()
}

func zeroDefault(v string) bool {
	switch v {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// quoteDefault quotes a string flag's default, so "" and addresses read
// as values.
func quoteDefault(fl *flag.Flag) string {
	if g, ok := fl.Value.(flag.Getter); ok {
		if _, ok := g.Get().(string); ok {
			return fmt.Sprintf("%q", fl.DefValue)
		}
	}
	return fl.DefValue
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
