package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/smpp-mux/smpp-mux/internal/buildinfo"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
	_ "github.com/smpp-mux/smpp-mux/plugins/standard"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func cmdValidate(args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := newFlags("validate", stdout)
	path := fs.String("config", "", "the config `FILE`")
	if err := fs.parseConfig(args, path); err != nil {
		return err
	}
	if _, err := mux.Load(*path); err != nil {
		return &exitError{code: 2, err: err}
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	return nil
}

// moduleJSON is one module in `modules --json`.
type moduleJSON struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Doc       string `json:"doc"`
}

func cmdModules(args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := newFlags("modules", stdout)
	asJSON := fs.Bool("json", false, "print the modules as a JSON array of {id, namespace, name, doc}")
	if err := fs.parse(args); err != nil {
		return err
	}
	mods := module.All()
	if *asJSON {
		out := make([]moduleJSON, len(mods))
		for i, mi := range mods {
			out[i] = moduleJSON{ID: mi.ID, Namespace: mi.Namespace(), Name: mi.Name(), Doc: mi.Doc}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, mi := range mods {
		fmt.Fprintf(stdout, "%-24s %s\n", mi.ID, mi.Doc)
	}
	return nil
}

func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("hash-password", stdout)
	cost := fs.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt cost `N`, %d to %d; each step doubles the work", bcrypt.MinCost, bcrypt.MaxCost))
	if err := fs.parse(args); err != nil {
		return err
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		return flagErr("--cost %d: want %d to %d", *cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	var pw []byte
	var err error
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		restore, nerr := noEcho(fd)
		if nerr != nil {
			return nerr
		}
		pw, err = promptPassword(func() ([]byte, error) { return term.ReadPassword(fd) }, stderr)
		restore()
	} else {
		pw, err = readPasswordLine(stdin)
	}
	if err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		return usageErr("%v", err) // over 72 bytes
	}
	fmt.Fprintln(stdout, string(h))
	return nil
}

// readPasswordLine reads the password from the first line of r (stdin
// that is not a terminal: a pipe or a file).
func readPasswordLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(r).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	pw := bytes.TrimRight(line, "\r\n")
	if len(pw) == 0 {
		return nil, usageErr("no password on stdin")
	}
	return pw, nil
}

// promptPassword asks for the password twice on prompt (stderr, so
// stdout holds only the hash), reading each with read, which does not
// echo (term.ReadPassword).
func promptPassword(read func() ([]byte, error), prompt io.Writer) ([]byte, error) {
	fmt.Fprint(prompt, "Password: ")
	pw, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, err
	}
	if len(pw) == 0 {
		return nil, usageErr("empty password")
	}
	fmt.Fprint(prompt, "Again: ")
	again, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, usageErr("the passwords do not match")
	}
	return pw, nil
}

func cmdVersion(args []string, _ io.Reader, stdout, _ io.Writer) error {
	if err := newFlags("version", stdout).parse(args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(version, bi))
	return nil
}

// versionText is what `smpp-mux version` prints: the version (set at
// link time, else the module's, else "devel"), the commit and its time
// when the binary was built from a git checkout (vcs.modified: with
// uncommitted changes), and the Go version and platform.
func versionText(v string, bi *debug.BuildInfo) string {
	in := buildinfo.From(v, bi)
	var b strings.Builder
	fmt.Fprintf(&b, "smpp-mux %s\n", in.Version)
	if in.Commit != "" {
		fmt.Fprintf(&b, "commit: %s", in.Commit)
		var notes []string
		if in.CommitTime != "" {
			notes = append(notes, in.CommitTime)
		}
		if in.Modified {
			notes = append(notes, "modified")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteByte('\n')
	} else {
		b.WriteString("commit: unknown (built without version control information)\n")
	}
	fmt.Fprintf(&b, "go: %s %s/%s\n", in.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
