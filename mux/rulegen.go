package mux

import "sync"

// ruleGen is the rule modules of one config, as the sessions use them.
// A submit or a delivery runs a client's rules between enter and leave; a
// reload retires the old config's generation, which waits for those in
// progress to leave, before it cleans the modules up. So no message meets
// a rule cleaned up under it (an external plugin stopped mid-call would
// answer it ESME_RSYSERR), and a reload waits at most for one rule call.
type ruleGen struct {
	mu      sync.RWMutex // held for reading by each run of the rules; for writing by retire
	retired bool         // written under mu held for writing
}

// enter reports whether the rules may run; false means the generation
// is retired, and the caller loads its client's config again (a reload
// stores the new config before it retires the old one).
func (g *ruleGen) enter() bool {
	g.mu.RLock()
	if g.retired {
		g.mu.RUnlock()
		return false
	}
	return true
}

// leave ends a run that enter let start.
func (g *ruleGen) leave() { g.mu.RUnlock() }

// retire waits for the runs in progress to leave and lets no new one
// enter.
func (g *ruleGen) retire() {
	g.mu.Lock()
	g.retired = true
	g.mu.Unlock()
}

// enterConf returns the client's config with its rules entered, loading
// the config again while the one it found is retired. ok is false when
// the client's config stays retired: the client was removed by a reload.
func (c *client) enterConf() (cc *clientConf, ok bool) {
	for {
		cc = c.conf.Load()
		if cc.gen.enter() {
			return cc, true
		}
		if c.conf.Load() == cc {
			return cc, false
		}
	}
}
