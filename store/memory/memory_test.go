package memory_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/memory"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

// TestContract runs the contract suite on stores made by the config
// loader, as [store] module = "memory" makes them.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return storetest.Load(t, `module = "memory"`+"\n"+storetest.LimitKeys(storetest.Limits, false))
	})
}

// TestNew runs it on stores made by New, which tests of other packages use.
func TestNew(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store {
		return memory.New(storetest.Limits)
	})
}
