package mux_test

import (
	"strings"
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/configcases"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
)

// notBalancer is registered in the balancer namespace without being a
// balancer.
type notBalancer struct{}

func (notBalancer) MuxModule() module.Info {
	return module.Info{ID: "balancer.not_a_balancer_test", New: func() module.Module { return notBalancer{} }}
}

func init() { module.Register(notBalancer{}) }

// withBalancer returns configcases.Base with its balancer key replaced.
func withBalancer(t *testing.T, repl string) string {
	t.Helper()
	const key = `balancer = "least_pending"`
	if !strings.Contains(configcases.Base, key) {
		t.Fatalf("configcases.Base has no %s", key)
	}
	return strings.Replace(configcases.Base, key, repl, 1)
}

// TestBalancerModule checks that [upstream] balancer is loaded as a
// module: by name, by default, or as a table with its module key, and
// that a table's errors name its keys.
func TestBalancerModule(t *testing.T) {
	for _, tc := range []struct{ name, repl, want string }{
		{"by name", `balancer = "round_robin"`, "round_robin"},
		{"default", ``, "least_pending"},
		{"table", "[upstream.balancer]\nmodule = \"round_robin\"", "round_robin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := mux.Parse([]byte(withBalancer(t, tc.repl)))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Upstream.Balancer != tc.want {
				t.Fatalf("balancer %q; want %q", cfg.Upstream.Balancer, tc.want)
			}
		})
	}
	line := strings.Count(configcases.Base[:strings.Index(configcases.Base, `balancer = "least_pending"`)], "\n") + 1
	for _, tc := range []struct{ name, repl, key string }{
		{"not a balancer", `balancer = "not_a_balancer_test"`, "upstream.balancer"},
		{"table unknown module", "[upstream.balancer]\nmodule = \"random\"", "upstream.balancer.module"},
		{"table without module", "[upstream.balancer]\nweight = 1", "upstream.balancer.module"},
		{"table unknown key", "[upstream.balancer]\nmodule = \"round_robin\"\nweight = 1", "upstream.balancer.weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := withBalancer(t, tc.repl)
			_, err := mux.Parse([]byte(src))
			errs := configErrors(t, err)
			if len(errs) != 1 || errs[0].Key != tc.key || errs[0].Line < line {
				t.Fatalf("errors %v; want one about %s, at line %d or later", err, tc.key, line)
			}
		})
	}
}
