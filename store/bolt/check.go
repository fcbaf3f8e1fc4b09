package bolt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/smpp-mux/smpp-mux/module"
)

var _ module.Checker = (*Store)(nil)

// Check implements module.Checker without creating anything: the database's
// directory must exist and be writable, and the file, when it exists, a
// writable regular file.
func (s *Store) Check() error {
	path := s.Path
	if path == "" {
		path = DefaultPath
	}
	fail := func(err error) error { return &module.KeyError{Key: "path", Err: fmt.Errorf("store.bolt: %w", err)} }
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fail(err)
	case !fi.IsDir():
		return fail(fmt.Errorf("%s is not a directory", dir))
	}
	if err := writable(dir); err != nil {
		return fail(fmt.Errorf("directory %s is not writable: %w", dir, err))
	}
	fi, err = os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // Provision creates it
	case err != nil:
		return fail(err)
	case !fi.Mode().IsRegular():
		return fail(fmt.Errorf("%s is not a regular file", path))
	}
	if err := writable(path); err != nil {
		return fail(fmt.Errorf("%s is not writable: %w", path, err))
	}
	return nil
}
