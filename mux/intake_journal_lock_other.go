//go:build !unix

package mux

import "os"

// lockFile does nothing where flock is missing: each instance must be
// given its own journal.
func lockFile(*os.File) error { return nil }
