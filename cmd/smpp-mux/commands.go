package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/smpp-mux/smpp-mux/mux"
	_ "github.com/smpp-mux/smpp-mux/plugins/standard"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0, err: err}
		}
		return usageErr("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func cmdValidate(args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := newFlags("validate", io.Discard)
	path := fs.String("config", "", "config file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageErr("--config FILE is required")
	}
	if _, err := mux.Load(*path); err != nil {
		return &exitError{code: 2, err: err}
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	return nil
}

func cmdModules(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlags("modules", stderr), args); err != nil {
		return err
	}
	for _, mi := range mux.Modules() {
		fmt.Fprintf(stdout, "%-24s %s\n", mi.ID, mi.Doc)
	}
	return nil
}

func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("hash-password", stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return usageErr("no password on stdin")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), *cost)
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintln(stdout, string(h))
	return nil
}

func cmdVersion(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlags("version", stderr), args); err != nil {
		return err
	}
	v := version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	fmt.Fprintf(stdout, "smpp-mux %s\n", v)
	return nil
}
