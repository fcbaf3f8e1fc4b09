package module

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Module is a piece of smpp-mux chosen and configured by name in the
// config: a rule, a store or a balancer. Its lifecycle, step by step:
//
//  1. New returns a pointer to a zero value; it has no side effects.
//  2. The config loader (mux.Parse, mux.Load) decodes the module's TOML
//     table into that value and calls Validate, when implemented, so that
//     `smpp-mux validate` reports bad settings without provisioning
//     anything; mux.Load then calls Check (see Checker), when
//     implemented, to look at the files and commands the settings name.
//  3. Context.LoadModule calls Provision(ctx), when implemented: the
//     module sets itself up (opens files, builds limiters, starts
//     background work bound to ctx).
//  4. LoadModule calls Validate again, on the provisioned module; it is
//     fast and pure.
//  5. The module serves (a Rule per message, a store.Store per call, a
//     balancer per pick).
//  6. Cleanup(), when implemented, releases what Provision took. When
//     Provision or Validate failed, LoadModule calls it at once, so it
//     must work on a module provisioned half way. Otherwise
//     Context.Cleanup calls it when the config the module belongs to is
//     replaced or the process stops.
//
// Modules register themselves from an init function with Register.
type Module interface {
	MuxModule() Info
}

// Info names a module and makes new values of it.
type Info struct {
	// ID is "<namespace>.<name>" in lowercase: rule.message_class,
	// store.bolt, balancer.least_pending. In TOML a table names only the
	// part after the dot (module = "message_class"); the key it sits under
	// gives the namespace.
	ID string
	// New returns a new, empty value of the module: a pointer.
	New func() Module
	// Doc is the one-line description `smpp-mux modules` prints.
	Doc string
}

// Namespace returns the part of the ID before the last dot.
func (mi Info) Namespace() string {
	if i := strings.LastIndexByte(mi.ID, '.'); i >= 0 {
		return mi.ID[:i]
	}
	return ""
}

// Name returns the part of the ID after the last dot.
func (mi Info) Name() string { return mi.ID[strings.LastIndexByte(mi.ID, '.')+1:] }

// Provisioner is implemented by modules that need setting up after their
// config is decoded.
type Provisioner interface {
	Provision(ctx Context) error
}

// Validator is implemented by modules that check their config.
type Validator interface {
	Validate() error
}

// CleanerUpper is implemented by modules that hold resources.
type CleanerUpper interface {
	Cleanup() error
}

// Checker is implemented by modules whose settings name something outside
// the process that can be looked at without starting anything: a command
// to run, a directory to write in. The config loader calls Check after
// Validate, so that `validate` reports what `run` would fail on; Check
// must not change anything. It returns a *KeyError to name the key at
// fault.
type Checker interface {
	Check() error
}

// KeyError is an error about one key of a module's table. A module's
// Validate or Check returns one to have the loader name that key and its
// line rather than the whole table.
type KeyError struct {
	Key string // the key in the module's table, e.g. "command"
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

var (
	modulesMu sync.RWMutex
	modules   = map[string]Info{}
)

// Register adds a module to the registry. It is called from init and
// panics on programming errors: a malformed or duplicate ID, a nil New.
func Register(m Module) {
	mi := m.MuxModule()
	if mi.New == nil {
		panic(fmt.Sprintf("module: %q has no New", mi.ID))
	}
	if mi.Namespace() == "" || mi.ID != strings.ToLower(mi.ID) {
		panic(fmt.Sprintf("module: id %q is not <namespace>.<name> in lowercase", mi.ID))
	}
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if _, dup := modules[mi.ID]; dup {
		panic(fmt.Sprintf("module: %q registered twice", mi.ID))
	}
	modules[mi.ID] = mi
}

// Get returns the registered module with id.
func Get(id string) (Info, bool) {
	modulesMu.RLock()
	defer modulesMu.RUnlock()
	mi, ok := modules[id]
	return mi, ok
}

// All returns every registered module, sorted by ID.
func All() []Info {
	modulesMu.RLock()
	defer modulesMu.RUnlock()
	out := make([]Info, 0, len(modules))
	for _, mi := range modules {
		out = append(out, mi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Names lists the names registered in namespace, comma-separated, for
// errors: "bolt, memory, redis".
func Names(namespace string) string {
	var names []string
	for _, mi := range All() {
		if mi.Namespace() == namespace {
			names = append(names, mi.Name())
		}
	}
	return strings.Join(names, ", ")
}
