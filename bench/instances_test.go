package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestInstancesSmoke runs the instances mode briefly: one and two mux
// processes on a redis-server from PATH, closed loop and paced. It
// checks that every receipt reached the account that sent its message,
// once, in every row; not how fast anything is. Without redis-server it
// skips, or fails when CI is set.
func TestInstancesSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and mux processes; skipped with -short")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not on PATH: %v", err)
		}
		t.Skip("redis-server not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, logs strings.Builder
	args := []string{"-mode", "instances", "-reps", "1", "-duration", "400ms", "-warmup", "200ms",
		"-conns", "4", "-window", "4", "-sessions", "1", "-dlr-delay", "5ms", "-dlr-drain", "10s"}
	if err := run(ctx, args, &out, &logs); err != nil {
		t.Fatalf("instances: %v\n%s", err, logs.String())
	}
	rows := 0
	for line := range strings.SplitSeq(out.String(), "\n") {
		if !strings.HasPrefix(line, "| closed loop |") && !strings.HasPrefix(line, "| 2000/s |") {
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(line, "| "), "|")
		counts := strings.Fields(strings.ReplaceAll(cells[len(cells)-1], "/", " "))
		if len(counts) != 5 || counts[0] == "0" || strings.Join(counts[1:], " ") != "0 0 0 0" {
			t.Errorf("receipts right / wrong / unknown / missing / dup = %v, want some right and no other: %s", counts, line)
		}
	}
	if rows != 4 {
		t.Errorf("%d rows, want 4 (1 and 2 instances, closed loop and paced):\n%s", rows, out.String())
	}
	t.Log(logs.String())
}
