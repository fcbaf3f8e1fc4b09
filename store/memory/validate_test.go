package memory_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/memory"
)

// TestValidate checks the limits every store shares (store.Limits): a
// negative queue_cap is refused with the module's ID, and memory, which
// applies its limits on every call, refuses a sweep by its key.
func TestValidate(t *testing.T) {
	if err := (&memory.Store{Limits: store.Limits{Retention: time.Hour, QueueCap: 10}}).Validate(); err != nil {
		t.Fatalf("valid limits: %v", err)
	}
	err := (&memory.Store{Limits: store.Limits{QueueCap: -1}}).Validate()
	if err == nil || err.Error() != "store.memory: queue_cap -1 is negative" {
		t.Fatalf("negative queue_cap: %v", err)
	}
	var ke *module.KeyError
	err = (&memory.Store{Limits: store.Limits{Sweep: time.Minute}}).Validate()
	if !errors.As(err, &ke) || ke.Key != "sweep" || !strings.Contains(err.Error(), "no sweep") {
		t.Fatalf("sweep: %v", err)
	}
}
