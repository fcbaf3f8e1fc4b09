package external

import (
	"strings"
	"sync"
	"time"
)

// A reload provisions the new config's rules before it cleans up the old
// ones. A plugin rule that the reload leaves unchanged (the same command,
// env, timeout and on_error at the same place of the same client, in the
// same mux) would otherwise restart its plugin for nothing: instead the
// new module takes the running plugin of the old one, and the last module
// cleaned up stops it (Caddy's UsagePool).

// poolKey names a runner that modules may share: the rule instance
// (module.Context.RuleInstance) and every setting that reaches the process.
type poolKey struct {
	rule    any
	command string // argv joined by NUL, which no argument holds
	env     string
	timeout time.Duration
	onError string
}

func (p *Plugin) poolKey(rule any) poolKey {
	return poolKey{
		rule:    rule,
		command: strings.Join(p.Command, "\x00"),
		env:     strings.Join(p.Env, "\x00"),
		timeout: p.Timeout.Or(DefaultTimeout),
		onError: p.OnError,
	}
}

// pool holds the runners of provisioned plugin rules, counting the
// modules that use each.
type pool struct {
	mu sync.Mutex // guards m; held while a runner starts
	m  map[poolKey]*pooled
}

type pooled struct {
	r    *runner
	refs int
}

var runners = pool{m: map[poolKey]*pooled{}}

// acquire returns the runner held under k, or starts r and holds it
// there, and a release (safe to call twice) that stops the runner once
// every module that acquired it has released it.
func (p *pool) acquire(k poolKey, r *runner) (*runner, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.m[k]
	if e == nil {
		if err := r.run(); err != nil {
			return nil, nil, err
		}
		e = &pooled{r: r}
		p.m[k] = e
	}
	e.refs++
	return e.r, sync.OnceFunc(func() {
		p.mu.Lock()
		e.refs--
		last := e.refs == 0
		if last {
			delete(p.m, k)
		}
		p.mu.Unlock()
		if last {
			e.r.stop()
		}
	}), nil
}
