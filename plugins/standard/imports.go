// Package standard imports every built-in module of smpp-mux so that the
// command can find them by name; a custom build adds or removes lines here.
package standard

import (
	_ "github.com/smpp-mux/smpp-mux/plugins/destton"
	_ "github.com/smpp-mux/smpp-mux/plugins/encodingcheck"
	_ "github.com/smpp-mux/smpp-mux/plugins/external"
	_ "github.com/smpp-mux/smpp-mux/plugins/msgclass"
	_ "github.com/smpp-mux/smpp-mux/plugins/priority"
	_ "github.com/smpp-mux/smpp-mux/plugins/ratelimit"
	_ "github.com/smpp-mux/smpp-mux/plugins/sender"
	_ "github.com/smpp-mux/smpp-mux/store/bolt"   // store.bolt
	_ "github.com/smpp-mux/smpp-mux/store/memory" // store.memory
	_ "github.com/smpp-mux/smpp-mux/store/pebble" // store.pebble
	_ "github.com/smpp-mux/smpp-mux/store/redis"  // store.redis
)
