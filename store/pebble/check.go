package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/smpp-mux/smpp-mux/mux"
)

var _ mux.Checker = (*Store)(nil)

// Check implements mux.Checker without creating anything: the parent of
// the database's directory must exist and be writable, and path, when it
// exists, a writable directory (not a store.bolt file).
func (s *Store) Check() error {
	path := s.Path
	if path == "" {
		path = DefaultPath
	}
	fail := func(err error) error { return &mux.KeyError{Key: "path", Err: fmt.Errorf("store.pebble: %w", err)} }
	parent := filepath.Dir(path)
	fi, err := os.Stat(parent)
	switch {
	case err != nil:
		return fail(err)
	case !fi.IsDir():
		return fail(fmt.Errorf("%s is not a directory", parent))
	}
	if err := notBolt(path); err != nil {
		return fail(err)
	}
	switch _, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		if err := writable(parent); err != nil {
			return fail(fmt.Errorf("directory %s is not writable: %w", parent, err))
		}
		return nil // Provision creates it
	case err != nil:
		return fail(err)
	}
	if err := writable(path); err != nil {
		return fail(fmt.Errorf("%s is not writable: %w", path, err))
	}
	return nil
}

// boltMagic is the magic number of a bbolt file's meta page, at offset 16.
var boltMagic = []byte{0xed, 0xda, 0x0c, 0xed}

// notBolt refuses a path that is a file rather than a directory, with a
// clear word when it is a store.bolt database: switching [store] module
// from bolt to pebble must not leave the bolt file's queued reports
// silently behind.
func notBolt(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		return nil // missing: created; other errors: Open says
	}
	head := make([]byte, 20)
	if f, err := os.Open(path); err == nil {
		_, _ = f.ReadAt(head, 0)
		_ = f.Close()
	}
	if bytes.Equal(head[16:20], boltMagic) || bytes.Equal(head[16:20], []byte{0xed, 0x0c, 0xda, 0xed}) {
		return fmt.Errorf("%s is a store.bolt database, not a pebble directory: store.pebble does not read it. "+
			"Keep module = \"bolt\" for it, or let its queues drain (no client with queued reports), "+
			"stop the mux and set path to a new directory", path)
	}
	return fmt.Errorf("%s is a file, not a directory", path)
}
