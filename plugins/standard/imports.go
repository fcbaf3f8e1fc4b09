// Package standard imports every built-in module of smpp-mux so that the
// command can find them by name; a custom build adds or removes lines here.
package standard

import (
	_ "github.com/smpp-mux/smpp-mux/store/memory" // store.memory
)
