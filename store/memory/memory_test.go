package memory_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/memory"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store {
		return memory.New(storetest.Limits)
	})
}
