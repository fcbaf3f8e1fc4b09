package module_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/module"
)

type named struct{ id string }

func (n named) MuxModule() module.Info {
	return module.Info{ID: n.id, New: func() module.Module { return named{n.id} }}
}

type noNew struct{}

func (noNew) MuxModule() module.Info { return module.Info{ID: "rule.no_new_test"} }

// TestRegister checks the registry: lookups, the namespace listing, and
// the panics on programming errors.
func TestRegister(t *testing.T) {
	module.Register(named{"kerneltest.b"})
	module.Register(named{"kerneltest.a"})
	if mi, ok := module.Get("kerneltest.a"); !ok || mi.Name() != "a" || mi.Namespace() != "kerneltest" {
		t.Fatalf("Get: %+v %v", mi, ok)
	}
	if got := module.Names("kerneltest"); got != "a, b" {
		t.Fatalf("Names: %q; want \"a, b\"", got)
	}
	for _, m := range []module.Module{named{"kerneltest.a"}, named{"NoNamespace"}, named{"kerneltest.Upper"}, noNew{}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%s) did not panic", m.MuxModule().ID)
				}
			}()
			module.Register(m)
		}()
	}
}
