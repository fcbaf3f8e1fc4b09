package upstream

import "context"

// Gate caps the provider binds of several pools together, as the mux's
// fleet-wide [upstream] fleet_max_sessions does over every instance that
// shares its store. A slot's goroutine calls Acquire before each
// connection attempt and the returned release once that connection has
// ended, so a slot holds the Gate only while it dials, binds or is bound.
type Gate interface {
	// Acquire waits until the slot may connect and returns the func that
	// gives its place back; it is called once, from the slot's
	// goroutine. It returns an error only when ctx ends (the slot is
	// stopping); a Gate that cannot tell (its store unreachable) lets the
	// slot connect.
	Acquire(ctx context.Context) (release func(), err error)
}
