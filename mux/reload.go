package mux

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"go.uber.org/zap"
)

// Reload applies a new config to the running mux without dropping the
// sessions it still allows. What it can apply live:
//
//   - clients added, removed (their sessions are unbound), or changed:
//     password, allow, max_binds, mo_numbers and rules take effect at the
//     next bind or PDU; bound sessions whose address the new allow list
//     no longer covers are unbound;
//   - [server] mo_default, dlr_grace and submit_wait;
//   - [upstream]: a new pool of sessions is started with the new settings;
//     once one of its sessions is bound, submits go to it and the old pool
//     drains (its in-flight submits are answered) and unbinds. A new pool
//     that binds nothing within the new response_timeout (15s at most) is
//     dropped, and the reload refused: the old pool keeps running.
//
// A change to anything else (listeners, store, other [server] keys) is
// refused before anything is touched: restart to apply it. When a
// new rule fails to provision, the new config is cleaned up and the old one
// keeps running. Log settings belong to the command, which applies them.
func (m *Mux) Reload(cfg *Config) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	select {
	case <-m.stopping:
		return fmt.Errorf("reload: the mux is stopping")
	default:
	}
	if m.dispatchCtx == nil {
		return fmt.Errorf("reload: the mux has not started")
	}
	if err := liveChangeable(m.cfg, cfg); err != nil {
		return err
	}
	var newUp *upPool
	if !reflect.DeepEqual(m.up.Load().cfg, cfg.Upstream) {
		var err error
		if newUp, err = m.startUpPool(cfg); err != nil {
			return fmt.Errorf("reload: [upstream]: %w", err)
		}
	}
	rctx, rcancel, err := provisionRules(cfg, m.log)
	if err != nil {
		if newUp != nil {
			_ = newUp.pool.Close()
		}
		return fmt.Errorf("reload: %w", err)
	}
	if newUp != nil {
		m.retire(m.up.Swap(newUp))
	}
	old := m.live.Load()
	lv := newLive(cfg)
	var added []*client
	for _, cc := range cfg.Clients {
		c := old.byID[cc.SystemID]
		if c == nil {
			c = newClient(cc)
			added = append(added, c)
		} else {
			c.conf.Store(newClientConf(cc))
		}
		lv.byID[cc.SystemID] = c
	}
	m.live.Store(lv)
	for _, c := range added {
		m.startDispatch(c)
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
	oldCtx, oldCancel := m.rulesCtx, m.rulesCancel
	m.rulesCtx, m.rulesCancel = rctx, rcancel
	m.rulesMu.Unlock()
	if oldCancel != nil {
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
		{"store", [3]any{old.Store.Name, old.Store.DLRTTL, old.Store.fingerprint}, [3]any{new.Store.Name, new.Store.DLRTTL, new.Store.fingerprint}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.old, c.new) {
			return fmt.Errorf("reload: [%s] changed; it cannot be applied live: restart smpp-mux", c.key)
		}
	}
	return nil
}

// upstreamSwapWait caps how long a reload waits for a new upstream pool to
// bind before it gives up and keeps the old one.
const upstreamSwapWait = 15 * time.Second

// startUpPool starts a pool for cfg's [upstream] and waits until one of
// its sessions is bound.
func (m *Mux) startUpPool(cfg *Config) (*upPool, error) {
	up, err := m.newUpPool(cfg)
	if err != nil {
		return nil, err
	}
	up.pool.Start(m.upCtx)
	wait := min(upstreamSwapWait, cfg.Upstream.ResponseTimeout.Or(upstreamSwapWait))
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for up.pool.Bound() == 0 {
		select {
		case <-up.pool.Room():
		case <-deadline.C:
			_ = up.pool.Close()
			return nil, fmt.Errorf("no session of the new settings bound within %v; the old ones keep running", wait)
		case <-m.stopping:
			_ = up.pool.Close()
			return nil, fmt.Errorf("the mux is stopping")
		}
	}
	return up, nil
}

// retire lets a replaced pool answer its in-flight submits, then unbind.
func (m *Mux) retire(old *upPool) {
	m.log.Info("upstream settings changed; the old sessions drain and unbind")
	m.retiring.Go(func() {
		bound := old.cfg.ResponseTimeout.Or(30*time.Second) + 5*time.Second
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		if err := old.pool.Shutdown(ctx); err != nil {
			m.log.Warn("old upstream sessions did not drain in time", zap.Error(err))
		}
	})
}
