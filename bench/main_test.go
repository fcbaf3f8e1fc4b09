package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain runs the mux helper when the harness starts this test binary
// as its child, as it does with the bench command.
func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "mux" {
		os.Exit(helperMain())
	}
	goleak.VerifyTestMain(m)
}

// TestSmoke runs every mode briefly on 127.0.0.1 with ports chosen at run
// time; it checks that the harness runs, not how fast anything is.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mux processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, logs strings.Builder
	if err := run(ctx, []string{"-mode", "smoke", "-duration", "1s"}, &out, &logs); err != nil {
		t.Fatalf("smoke: %v\n%s", err, logs.String())
	}
	for _, want := range []string{"| proxy | mux |", "| receipts | mux-bolt |", "| rules | mux-rules |", "| scaling | mux |", "### Idle binds"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("smoke output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(out.String(), "| proxy | reference |") && !strings.Contains(out.String(), "No reference rows") {
		t.Errorf("smoke output has neither reference rows nor the note why not:\n%s", out.String())
	}
	t.Log(logs.String())
}

// TestResolveReference checks the -reference forms that need no build.
// Not parallel: it changes the working directory.
func TestResolveReference(t *testing.T) {
	r, note, err := resolveReference("none", t.TempDir())
	if r != nil || err != nil || !strings.Contains(note, "left out") {
		t.Errorf("none: got %v, %q, %v; want no reference and a note", r, note, err)
	}
	if _, _, err := resolveReference("no-such-reference-binary -x", t.TempDir()); err == nil {
		t.Error("a missing binary: want an error")
	}
	// A checkout with nothing beside it: no reference, and a note.
	root := filepath.Join(t.TempDir(), "checkout")
	if err := os.MkdirAll(filepath.Join(root, "bench"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module github.com/smpp-mux/smpp-mux\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(root, "bench"))
	r, note, err = resolveReference("auto", t.TempDir())
	if r != nil || err != nil || !strings.Contains(note, "not found beside the checkout") {
		t.Errorf("auto without trivproxy: got %v, %q, %v; want no reference and a note", r, note, err)
	}
	r, _, err = resolveReference("true -a b", t.TempDir())
	if err != nil || r == nil || r.name != "true" || strings.Join(r.args, " ") != "-a b" {
		t.Errorf("a binary with arguments: got %+v, %v", r, err)
	}
}
