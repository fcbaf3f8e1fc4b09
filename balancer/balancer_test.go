package balancer_test

import (
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/balancer"
	"github.com/smpp-mux/smpp-mux/module"
)

// TestRegistered checks that every balancer module is registered under
// its ID, makes a Balancer, and picks nothing from no sessions.
func TestRegistered(t *testing.T) {
	for _, name := range []string{balancer.Default, "round_robin"} {
		mi, ok := module.Get("balancer." + name)
		if !ok {
			t.Fatalf("balancer.%s is not registered", name)
		}
		b, ok := mi.New().(balancer.Balancer)
		if !ok {
			t.Fatalf("balancer.%s makes a %T, not a Balancer", name, mi.New())
		}
		if s := b.Pick(time.Now(), nil); s != nil {
			t.Fatalf("balancer.%s picked %v from no sessions", name, s)
		}
		if mi.Doc == "" {
			t.Errorf("balancer.%s has no Doc", name)
		}
	}
}
