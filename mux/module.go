package mux

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
//  2. The loader decodes the module's TOML table into that value.
//  3. Provision(ctx), when implemented, sets the module up: opens files,
//     builds limiters, starts background work bound to ctx.
//  4. Validate(), when implemented, checks the result; it is fast and pure.
//  5. The module serves (a Rule per message, a store.Store per call).
//  6. Cleanup(), when implemented, releases what Provision took. It runs
//     when the config the module belongs to is replaced or the process
//     stops, and also after a Provision that failed half way.
//
// The loader (Parse, Load) also calls Validate right after decoding, and
// Load calls Check (see Checker) when implemented, so that `validate`
// reports bad settings and missing files or commands without
// provisioning anything.
//
// Modules register themselves from an init function with RegisterModule.
type Module interface {
	MuxModule() ModuleInfo
}

// ModuleInfo names a module and makes new values of it.
type ModuleInfo struct {
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
func (mi ModuleInfo) Namespace() string {
	if i := strings.LastIndexByte(mi.ID, '.'); i >= 0 {
		return mi.ID[:i]
	}
	return ""
}

// Name returns the part of the ID after the last dot.
func (mi ModuleInfo) Name() string { return mi.ID[strings.LastIndexByte(mi.ID, '.')+1:] }

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

var (
	modulesMu sync.RWMutex
	modules   = map[string]ModuleInfo{}
)

// RegisterModule adds a module to the registry. It is called from init and
// panics on programming errors: a malformed or duplicate ID, a nil New.
func RegisterModule(m Module) {
	mi := m.MuxModule()
	if mi.New == nil {
		panic(fmt.Sprintf("mux: module %q has no New", mi.ID))
	}
	if mi.Namespace() == "" || mi.ID != strings.ToLower(mi.ID) {
		panic(fmt.Sprintf("mux: module id %q is not <namespace>.<name> in lowercase", mi.ID))
	}
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if _, dup := modules[mi.ID]; dup {
		panic(fmt.Sprintf("mux: module %q registered twice", mi.ID))
	}
	modules[mi.ID] = mi
}

// GetModule returns the registered module with id.
func GetModule(id string) (ModuleInfo, bool) {
	modulesMu.RLock()
	defer modulesMu.RUnlock()
	mi, ok := modules[id]
	return mi, ok
}

// Modules returns every registered module, sorted by ID.
func Modules() []ModuleInfo {
	modulesMu.RLock()
	defer modulesMu.RUnlock()
	out := make([]ModuleInfo, 0, len(modules))
	for _, mi := range modules {
		out = append(out, mi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// moduleNames lists the names registered in a namespace, for errors.
func moduleNames(namespace string) string {
	var names []string
	for _, mi := range Modules() {
		if mi.Namespace() == namespace {
			names = append(names, mi.Name())
		}
	}
	return strings.Join(names, ", ")
}
