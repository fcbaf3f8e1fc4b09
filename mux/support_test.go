package mux

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// An error that repeats per batch is logged once per interval, with how
// often it repeated since the last line: a full disk made one ERROR line
// per failed batch (3,600 lines in 18 s).
func TestRepeatLog(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	rl := newRepeatLog(zap.New(core), 50*time.Millisecond)
	errDisk := errors.New("no space left on device")
	for range 1000 {
		rl.log("cannot store reports", errDisk)
	}
	rl.log("cannot store message ids", errDisk) // another message has its own count
	if n := logs.Len(); n != 2 {
		t.Fatalf("%d lines for 1,001 errors in a burst, want 2", n)
	}
	time.Sleep(60 * time.Millisecond)
	rl.log("cannot store reports", errDisk)
	all := logs.All()
	if len(all) != 3 {
		t.Fatalf("%d lines after the interval, want 3", len(all))
	}
	if got := all[2].ContextMap()["repeated"]; got != int64(999) {
		t.Errorf("repeated = %v, want 999", got)
	}
}
