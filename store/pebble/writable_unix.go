//go:build unix

package pebble

import "golang.org/x/sys/unix"

// writable reports, as access(2) does, whether this process may write to
// path: its permissions, its owner and read-only mounts are considered.
func writable(path string) error { return unix.Access(path, unix.W_OK) }
