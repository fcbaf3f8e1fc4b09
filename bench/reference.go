package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The reference proxy is a third path beside direct and mux: another
// multiplexer run on the same load, so that the mux's figures can be read
// as ratios to it. It must take trivproxy's flags (-listen, -upstream,
// -sessions, -window, -system-id, -password) and print "listening on
// ADDR" on stderr once its upstream sessions are bound.

// defaultReference is where trivproxy sits beside the checkout, relative
// to the repository root.
var defaultReference = filepath.Join("..", "shared", "tools", "trivproxy")

// reference is the resolved -reference flag: a binary and the arguments
// that precede the bench's own.
type reference struct {
	name string   // for the report, e.g. "trivproxy"
	desc string   // what the flag resolved to
	bin  string   // executable
	args []string // before the bench's flags
}

// resolveReference turns the -reference flag into a runnable reference,
// building a Go package once into dir. It returns nil and a note when
// there is no reference: none asked for, or none beside the checkout.
func resolveReference(flagVal, dir string) (*reference, string, error) {
	switch flagVal = strings.TrimSpace(flagVal); flagVal {
	case "", "none":
		return nil, "no reference proxy (-reference none): the reference rows are left out", nil
	case "auto":
		root, err := repoRoot()
		if err != nil {
			return nil, fmt.Sprintf("no reference proxy (%v): the reference rows are left out; -reference names one", err), nil
		}
		pkg := filepath.Join(root, defaultReference)
		if fi, err := os.Stat(filepath.Join(pkg, "main.go")); err != nil || fi.IsDir() {
			return nil, fmt.Sprintf("no reference proxy: %s not found beside the checkout; the reference rows are left out (-reference names one)", defaultReference), nil
		}
		r, err := buildReference(pkg, nil, dir)
		if r != nil {
			r.desc = defaultReference + " (beside the checkout)"
		}
		return r, "", err
	}
	f := strings.Fields(flagVal)
	if len(f) >= 3 && f[0] == "go" && f[1] == "run" {
		r, err := buildReference(f[2], f[3:], dir)
		return r, "", err
	}
	if fi, err := os.Stat(f[0]); err == nil && fi.IsDir() {
		r, err := buildReference(f[0], f[1:], dir)
		return r, "", err
	}
	bin, err := exec.LookPath(f[0])
	if err != nil {
		return nil, "", fmt.Errorf("-reference: %w", err)
	}
	return &reference{name: filepath.Base(f[0]), desc: flagVal, bin: bin, args: f[1:]}, "", nil
}

// buildReference builds the Go main package in pkgDir (a module of its
// own or a directory of this one) into dir.
func buildReference(pkgDir string, args []string, dir string) (*reference, error) {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(abs)
	bin := filepath.Join(dir, "reference-"+name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("-reference: go build in %s: %v\n%s", pkgDir, err, out)
	}
	return &reference{name: name, desc: "go build " + pkgDir, bin: bin, args: args}, nil
}

// repoRoot is the directory of this module's go.mod, found from the
// working directory up.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/smpp-mux/smpp-mux\n")) {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("not inside the smpp-mux checkout")
		}
		d = up
	}
}

// startRef runs the reference against the simulator at upstream with
// sessions upstream sessions of window each, bound as account, and waits
// until it listens.
func startRef(r *reference, dir, name, upstream, account string, sessions, window int) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), r.args...),
		"-listen", "127.0.0.1:0", "-upstream", upstream,
		"-sessions", strconv.Itoa(sessions), "-window", strconv.Itoa(window),
		"-system-id", account, "-password", "pw")
	aw := &addrWriter{w: logf, addr: make(chan string, 1)}
	cmd := exec.Command(r.bin, args...)
	cmd.Stderr = aw
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, pid: cmd.Process.Pid, logf: logf, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	select {
	case p.addr = <-aw.addr:
	case err := <-p.done:
		logf.Close()
		return nil, fmt.Errorf("reference %s exited (%v); see %s", name, err, logf.Name())
	case <-time.After(30 * time.Second):
		stopRef(p)
		return nil, fmt.Errorf("reference %s: not listening in 30s; see %s", name, logf.Name())
	}
	return p, nil
}

// addrWriter copies a child's stderr to w and sends the address of its
// first "listening on ADDR" line on addr.
type addrWriter struct {
	w    io.Writer
	line []byte // the first line so far; nil once it was seen
	seen bool
	addr chan string
}

func (a *addrWriter) Write(b []byte) (int, error) {
	if !a.seen {
		a.line = append(a.line, b...)
		if _, rest, ok := bytes.Cut(a.line, []byte("listening on ")); ok {
			if f := strings.Fields(string(rest)); len(f) > 0 && bytes.ContainsAny(rest, " \n") {
				a.seen, a.line = true, nil
				a.addr <- strings.TrimRight(f[0], ",")
			}
		}
	}
	return a.w.Write(b)
}

// stopRef ends the reference with SIGTERM, killing it after 10s.
func stopRef(p *proc) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(10 * time.Second)
}
