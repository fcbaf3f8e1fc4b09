package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// TestStartupFailures runs `smpp-mux run` as a process against configs
// that are valid but cannot start. Each must exit 1 with one line that
// names the cause, and never panic (a panic exits 2 with a stack trace).
func TestStartupFailures(t *testing.T) {
	dir := t.TempDir()
	notPlugin := filepath.Join(dir, "not-a-plugin")
	if err := os.WriteFile(notPlugin, []byte("#!/bin/sh\necho not a plugin\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked.db")
	db, err := bbolt.Open(locked, 0o600, nil) // held until the test ends, as by another instance
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() }) // the subtests are parallel: they run after this body returns
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	deadRedis := freeAddr(t) // nothing listens there

	rule := func(command string) string {
		return fmt.Sprintf("[[client.rule]]\nmodule = \"plugin\"\ncommand = [%q]\n", command)
	}
	cases := []struct {
		name string
		edit func(cfg string) string
		want []string // substrings of the one error line
	}{
		{"redis unreachable", func(c string) string {
			return strings.Replace(c, `module = "memory"`, fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\ntimeout = \"300ms\"", deadRedis), 1)
		}, []string{"store.redis", deadRedis}},
		{"bolt file held by another instance", func(c string) string {
			return strings.Replace(c, `module = "memory"`, fmt.Sprintf("module = \"bolt\"\npath = %q", locked), 1)
		}, []string{"store.bolt", "locked by another process"}},
		{"plugin command that is not a plugin", func(c string) string {
			return c + rule(notPlugin)
		}, []string{`client "shop" rule[0]`}},
		{"server.listen in use", func(c string) string {
			return strings.Replace(c, `listen = "127.0.0.1:0"`, fmt.Sprintf("listen = %q", busy.Addr()), 1)
		}, []string{busy.Addr().String(), "address already in use"}},
		{"admin.listen in use", func(c string) string {
			return strings.Replace(c, "[admin]\nlisten = \"\"", fmt.Sprintf("[admin]\nlisten = %q", busy.Addr()), 1)
		}, []string{"admin.listen", "address already in use"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.edit(fmt.Sprintf(minimal, freeAddr(t)))
			code, stderr := runProcess(t, "run", "--config", writeConfig(t, cfg))
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("start-up panicked:\n%s", stderr)
			}
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr)
			}
			var errLines []string
			for l := range strings.Lines(stderr) {
				if strings.HasPrefix(l, "smpp-mux run: ") {
					errLines = append(errLines, strings.TrimSpace(l))
				}
			}
			if len(errLines) != 1 {
				t.Fatalf("want one error line, got %d; stderr:\n%s", len(errLines), stderr)
			}
			t.Log(errLines[0])
			for _, w := range tc.want {
				if !strings.Contains(errLines[0], w) {
					t.Errorf("error line %q does not name %q", errLines[0], w)
				}
			}
		})
	}
}

// runProcess runs the command as a process and returns its exit code and
// its whole stderr; it is killed after 30 s.
func runProcess(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SMPP_MUX_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("still running after 30 s; stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}
