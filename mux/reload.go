package mux

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/upstream"
)

// Reload applies a new config to the running mux without dropping the
// sessions it still allows. What it can apply live:
//
//   - clients added, removed (their sessions are unbound), or changed:
//     password, allow, max_binds, mo_numbers and rules take effect at the
//     next bind or PDU; bound sessions whose address the new allow list
//     no longer covers are unbound;
//   - [server] mo_default, dlr_grace and submit_wait;
//   - [upstream] balancer and max_rate, at once, without touching a
//     session;
//   - the rest of [upstream], one upstream session at a time (see
//     upstream.Pool.Reconfigure), so the provider never sees more than one
//     bind beyond the old or the new count, whichever is larger. Sessions
//     whose host and settings stay are kept, bound. A change to the
//     credentials, bind, window or timers replaces every session; a
//     changed host replaces its sessions. For each session to replace, a
//     new one is started and, once it is bound, the old one drains (it
//     takes no new submits, answers those in flight and refuses new
//     reports with a temporary status) and unbinds; then the next.
//     Sessions no longer configured drain and unbind; new ones are added.
//
// A new session that does not bind within the new response_timeout (15s
// at most) stops the rollout, and the reload fails with an error that
// says which host and why: the sessions already replaced stay replaced,
// the others keep their old settings, and nothing else of the new config
// is applied. Reloading the same file again, once the host is fixed, goes
// on from there. The first session is replaced before anything is
// removed, so settings that do not bind change nothing. Once a new
// session is bound, an old one whose host is down (maintenance) is
// replaced without waiting for its replacement to bind.
//
// A change to anything else (listeners, store, other [server] keys) is
// refused before anything is touched: restart to apply it. When a
// new rule fails to provision, the new config is cleaned up and the old one
// keeps running. Log settings belong to the command, which applies them.
//
// Shutdown stops a rollout in progress, then drains and unbinds every
// session, old or new.
func (m *Mux) Reload(cfg *Config) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	select {
	case <-m.stopping:
		return fmt.Errorf("reload: the mux is stopping")
	default:
	}
	if !m.dispatcher.running() {
		return fmt.Errorf("reload: the mux has not started")
	}
	if err := liveChangeable(m.cfg, cfg); err != nil {
		return err
	}
	up := m.router.up.Load()
	ucfg, err := upstreamConfig(cfg, m.log)
	if err != nil {
		return fmt.Errorf("reload: [upstream]: %w", err)
	}
	ucfg.Gate = m.upstreamGate()
	newUp := &upPool{cfg: cfg.Upstream, pool: up.pool, pace: up.pace}
	if cfg.Upstream.MaxRate != up.cfg.MaxRate {
		newUp.pace = fleetPacer(m.fleet, cfg.Upstream)
	}
	rctx, rcancel, err := provisionRules(cfg, m.log, &m.ruleEvents, m.fleet)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	// The new config's balancer belongs to its Context, as its rules do.
	if newUp.bal, err = loadBalancer(rctx, cfg.Upstream); err != nil {
		rcancel()
		_ = rctx.Cleanup()
		return fmt.Errorf("reload: %w", err)
	}
	// The new config's balancer belongs to its Context, as its rules do.
	if newUp.bal, err = loadBalancer(rctx, cfg.Upstream); err != nil {
		rcancel()
		_ = rctx.Cleanup()
		return fmt.Errorf("reload: %w", err)
	}
	gen := &ruleGen{}
	if err := m.reconfigure(ucfg, cfg.Upstream); err != nil {
		rcancel()
		_ = rctx.Cleanup()
		return fmt.Errorf("reload: [upstream]: %w; the rest of the new config is not applied", err)
	}
	m.router.up.Store(newUp)
	m.setGate(cfg.Upstream)
	old := m.live.Load()
	lv := newLive(cfg)
	var added []*client
	for _, cc := range cfg.Clients {
		c := old.byID[cc.SystemID]
		if c == nil {
			c = newClient(cc, gen)
			added = append(added, c)
		} else {
			c.conf.Store(newClientConf(cc, gen))
		}
		lv.byID[cc.SystemID] = c
	}
	m.live.Store(lv)
	for _, c := range added {
		m.dispatcher.add(c)
	}
	for id, c := range old.byID {
		if lv.byID[id] == nil {
			c.stop()
			m.unbindWhere(c, func(*binding) bool { return true })
			m.log.Info("client removed by reload; its sessions are unbound", zap.String("system_id", id))
			continue
		}
		cc := c.conf.Load()
		m.unbindWhere(c, func(b *binding) bool { return !cc.allowed(b.s.RemoteAddr()) })
		c.notify()
	}
	m.rulesMu.Lock()
	oldCtx, oldCancel, oldGen := m.rulesCtx, m.rulesCancel, m.rulesGen
	m.rulesCtx, m.rulesCancel, m.rulesGen = rctx, rcancel, gen
	m.rulesMu.Unlock()
	if oldCancel != nil {
		oldGen.retire() // the messages in the old rules finish there first
		oldCancel()
		if err := oldCtx.Cleanup(); err != nil {
			m.log.Warn("cleaning up the rules of the old config", zap.Error(err))
		}
	}
	m.log.Info("config reloaded", zap.Int("clients", len(lv.byID)), zap.Int("added", len(added)))
	return nil
}

// unbindWhere unbinds the client's sessions that match.
func (m *Mux) unbindWhere(c *client, match func(*binding) bool) {
	c.mu.Lock()
	var out []*binding
	for _, b := range c.sessions {
		if match(b) {
			out = append(out, b)
		}
	}
	c.mu.Unlock()
	for _, b := range out {
		b.s.Unbind()
	}
}

// liveChangeable returns an error naming the first section that differs
// between old and new in a way Reload cannot apply.
func liveChangeable(old, new *Config) error {
	os, ns := old.Server, new.Server
	os.MODefault, ns.MODefault = "", ""
	os.DLRGrace, ns.DLRGrace = 0, 0
	os.SubmitWait, ns.SubmitWait = 0, 0
	checks := []struct {
		key      string
		old, new any
	}{
		{"server", os, ns},
		{"admin", old.Admin, new.Admin},
		{"store", storeKeys(old.Store), storeKeys(new.Store)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.old, c.new) {
			return fmt.Errorf("reload: [%s] changed; it cannot be applied live: restart smpp-mux", c.key)
		}
	}
	return nil
}

// upstreamBindWait caps how long a reload waits for each new upstream
// session to bind before it stops the rollout.
const upstreamBindWait = 15 * time.Second

// reconfigure moves the upstream sessions to ucfg, one at a time; u is
// the [upstream] it comes from. Shutdown stops it.
func (m *Mux) reconfigure(ucfg upstream.Config, u UpstreamConfig) error {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case <-m.stopping:
			cancel(errors.New("the mux is stopping"))
		case <-ctx.Done():
		}
	}()
	wait := min(upstreamBindWait, u.ResponseTimeout)
	return m.router.up.Load().pool.Reconfigure(ctx, ucfg, wait)
}

// storeKeys is what of [store] must stay the same across a reload.
func storeKeys(sc StoreConfig) [7]any {
	return [7]any{sc.Name, sc.DLRTTL, sc.FinalTTL, sc.Journal, sc.JournalMaxMB, sc.Tracing(), sc.fingerprint}
}
