//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	ptm = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptm, pts
}

// On a terminal, hash-password asks twice on stderr and the terminal does
// not echo what is typed.
func TestHashPasswordTerminal(t *testing.T) {
	ptm, pts := openPTY(t)
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	cmd := exec.Command(os.Args[0], "hash-password", "--cost", "4")
	cmd.Env = append(os.Environ(), "SMPP_MUX_MAIN=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	echoed := new(syncBuffer)
	go func() { // what the terminal echoes; ends when ptm is closed
		b := make([]byte, 256)
		for {
			n, err := ptm.Read(b)
			echoed.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	eventually.That(t, 10*time.Second, "the first prompt", func() bool { return strings.Contains(stderr.String(), "Password: ") })
	if _, err := ptm.WriteString("s3cret\n"); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "the second prompt", func() bool { return strings.Contains(stderr.String(), "Again: ") })
	if _, err := ptm.WriteString("s3cret\n"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hash-password on a terminal: %v; stderr %q", err, stderr)
	}
	if h := strings.TrimSpace(stdout.String()); bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret")) != nil {
		t.Fatalf("stdout %q is not a hash of the typed password", h)
	}
	// The terminal echoes again once it is done, and the reader sees it.
	if _, err := ptm.WriteString("after\n"); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "echo back on", func() bool { return strings.Contains(echoed.String(), "after") })
	if strings.Contains(echoed.String(), "s3cret") || strings.Contains(stderr.String(), "s3cret") {
		t.Fatalf("the password was echoed: terminal %q, stderr %q", echoed, stderr)
	}
}
