package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

// childEnv names the database path for a child test process that fills
// its file under RLIMIT_FSIZE (see TestFileSizeLimit).
const childEnv = "SMPPMUX_BOLT_FSIZE_CHILD"

// fill enqueues 4 KiB reports until a write fails or max bytes were
// written, and returns the first error and how many items were stored.
func fill(s *Store, max int) (int, error) {
	frame := bytes.Repeat([]byte{0x5A}, 4096)
	for n := 0; n*len(frame) < max; n++ {
		err := s.Enqueue(context.Background(), []store.Item{{Client: "full", Kind: store.KindReport, Frame: frame}})
		if err != nil {
			return n, err
		}
	}
	return 0, nil
}

// TestDiskFull fills a 1 MiB tmpfs: Enqueue and PutIDs must return errors,
// never panic, and the store must go on answering reads and close cleanly.
func TestDiskFull(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on linux to mount a tmpfs; TestFileSizeLimit covers the rest")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	s := open(t, filepath.Join(dir, "s.db"), store.Limits{Sweep: time.Hour})
	defer s.Close()
	n, err := fill(s, 8<<20)
	if err == nil {
		t.Fatal("8 MiB of reports fit on a 1 MiB tmpfs")
	}
	if !strings.Contains(err.Error(), "store.bolt: enqueue 1 items:") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Enqueue on a full disk: %v; want a wrapped ENOSPC", err)
	}
	t.Logf("stored %d reports, then: %v", n, err)
	recs := make([]store.IDRecord, 2000)
	for i := range recs {
		recs[i] = store.IDRecord{ID: fmt.Sprintf("%040d", i), Client: "full", Expires: time.Now().Add(time.Hour)}
	}
	if err := s.PutIDs(context.Background(), recs); err == nil {
		t.Error("PutIDs of 2000 ids succeeded on a full disk")
	}
	es, err := s.Fetch(context.Background(), "full", 10, time.Minute)
	if err != nil || len(es) != min(n, 10) {
		t.Errorf("Fetch after disk full = %d entries, %v; want %d", len(es), err, min(n, 10))
	}
	if _, err := s.Stats(context.Background()); err != nil {
		t.Errorf("Stats after disk full: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after disk full: %v", err)
	}
	// What was committed before the disk filled survives.
	s2 := open(t, filepath.Join(dir, "s.db"), store.Limits{Sweep: time.Hour})
	defer s2.Close()
	if st, err := s2.Stats(context.Background()); err != nil || st.Queued["full"] != n {
		t.Errorf("after reopen: %+v, %v; want full:%d", st.Queued, err, n)
	}
}

// TestFileSizeLimit runs a child process under RLIMIT_FSIZE 512 KiB (with
// SIGXFSZ ignored, so writes fail with EFBIG instead of killing it): its
// writes must fail with an error, never a panic or a crash.
func TestFileSizeLimit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RLIMIT_FSIZE behaviour checked on linux only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.db")
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("store.bolt: enqueue 1 items:")) || !bytes.Contains(out, []byte("file too large")) {
		t.Errorf("child output %q; want a wrapped EFBIG from Enqueue", out)
	}
	t.Logf("child: %s", bytes.TrimSpace(out))
}

// runChild is the child of TestFileSizeLimit. It returns the exit code:
// 0 when a write failed with an error and the store still closed.
func runChild() int {
	path := os.Getenv(childEnv)
	signal.Ignore(syscall.SIGXFSZ)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 512 << 10, Max: 512 << 10}); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	s, err := Open(path, store.Limits{Sweep: time.Hour}, nil)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	n, err := fill(s, 8<<20)
	if err == nil {
		fmt.Println("8 MiB of reports fit under a 512 KiB file size limit")
		return 1
	}
	fmt.Printf("stored %d reports, then: %v\n", n, err)
	if err := s.PutIDs(context.Background(), []store.IDRecord{{ID: "x", Client: "c", Expires: time.Now().Add(time.Hour)}}); err != nil {
		fmt.Println("PutIDs after:", err)
	}
	if _, err := s.Fetch(context.Background(), "full", 1, time.Minute); err != nil {
		fmt.Println("Fetch after:", err)
		return 1
	}
	if err := s.Close(); err != nil {
		fmt.Println("Close:", err)
		return 1
	}
	return 0
}
