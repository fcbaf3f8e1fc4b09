package upstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Reconfigure moves the running pool to cfg one slot at a time, so the
// provider never sees more than one bind beyond the old or the new slot
// count, whichever is larger:
//
//   - A slot with cfg's settings on one of cfg's hosts is kept as it is,
//     up to SessionsPerHost per host. The settings are all of Config but
//     Hosts, SessionsPerHost and Logger: a change to any other
//     (credentials, bind, window, timers) replaces every slot. Hosts are
//     the same when their address, TLS and TLS settings are.
//   - Each other slot is replaced: a new slot with cfg's settings is
//     started and, once it is bound, the old one is retired. Only then
//     does the next step begin.
//   - Slots beyond cfg's count are retired; missing ones are added, and
//     each must bind before the next step.
//
// The first replacement is made before anything else, so settings that
// do not bind change nothing; the surplus is retired right after it.
// Bound slots are replaced first and retired last as surplus. Once a slot
// with cfg's settings is bound, a slot that is down (its host in
// maintenance) is replaced without waiting for its replacement to bind.
//
// A retired slot takes no new submits (its state is Draining) and refuses
// new deliver_sm with ESME_RX_T_APPN, so the provider sends them on
// another bind. It waits up to its ResponseTimeout for its submits in
// flight to be answered and the reports it handed on to be replied, then
// unbinds and leaves Sessions.
//
// A new slot that is not bound within bindWait is stopped, and
// Reconfigure returns an error naming its host and why its last attempt
// failed. The steps already made stay made: the slots already replaced
// keep cfg's settings, the others their old ones, and a later
// Reconfigure goes on from there. When ctx ends, or the pool stops,
// Reconfigure returns the cause at once, and a slot it was starting or
// retiring is left to Shutdown or Close. An invalid cfg changes nothing.
// One Reconfigure runs at a time; the pool must be started.
func (p *Pool) Reconfigure(ctx context.Context, cfg Config, bindWait time.Duration) error {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if _, none := p.handler.(noHandler); none && cfg.Bind != pdu.CmdBindTransmitter {
		return errNoHandler
	}
	p.reconfMu.Lock()
	defer p.reconfMu.Unlock()
	if !p.isStarted() {
		return errors.New("upstream: Reconfigure before Start")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(p.stopCtx, func() { cancel(ErrClosing) })()
	steps, proven := p.plan(&cfg)
	if len(steps) == 0 {
		return nil
	}
	log := cfg.Logger.With(zap.String("system_id", cfg.SystemID))
	log.Info("upstream settings changed; replacing sessions one at a time", zap.Int("steps", len(steps)))
	for i, st := range steps {
		bound, err := p.step(ctx, &cfg, st, bindWait, proven)
		proven = proven || bound
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w; stopped after %d of %d steps", context.Cause(ctx), i, len(steps))
			}
			return stopped(err, steps, i)
		}
	}
	log.Info("upstream sessions replaced", zap.Int("sessions", len(p.Sessions())))
	return nil
}

// step is one move of Reconfigure: start a slot on host and wait until it
// is bound, then retire old. Either may be nil.
type step struct {
	host *Host
	old  *Session
}

// step makes st: a new slot that does not bind within bindWait is
// stopped again, and the old one is kept. It reports whether a new slot
// bound.
//
// Once the new settings are proven (a session with them is bound), a
// replacement whose old slot is not bound (its host is down: the
// provider's rolling maintenance) does not wait: the old slot, which
// carries nothing, is retired first, and the new one left to connect by
// itself when its host is back, as the old one would have. An added slot
// (no old one) always waits for its bind.
func (p *Pool) step(ctx context.Context, cfg *Config, st step, bindWait time.Duration, proven bool) (bool, error) {
	if proven && st.host != nil && st.old != nil && st.old.State() != StateBound {
		if err := p.retire(ctx, st.old); err != nil {
			return false, err
		}
		_, err := p.add(cfg, *st.host)
		return false, err
	}
	bound := false
	if st.host != nil {
		s, err := p.add(cfg, *st.host)
		if err != nil {
			return false, err
		}
		if err := p.waitBound(ctx, s, bindWait); err != nil {
			if ctx.Err() == nil {
				_ = p.retire(ctx, s)
			}
			return false, err
		}
		bound = true
	}
	if st.old != nil {
		return bound, p.retire(ctx, st.old)
	}
	return bound, nil
}

// plan lists the steps that move the slots now to cfg's, and reports
// whether a kept slot is bound (cfg's settings are proven). Bound slots
// are replaced first: their replacements prove the settings before any
// slot that is down is replaced without waiting (see step).
func (p *Pool) plan(cfg *Config) ([]step, bool) {
	cur := p.Sessions()
	kept := make(map[*Session]bool, len(cur))
	proven := false
	var add []Host
	for _, h := range cfg.Hosts {
		n := 0
		for _, s := range cur {
			if n < cfg.SessionsPerHost && !kept[s] && !s.retiring.Load() && s.cfg.sameSession(cfg) && s.host.same(h) {
				kept[s] = true
				proven = proven || s.State() == StateBound
				n++
			}
		}
		for ; n < cfg.SessionsPerHost; n++ {
			add = append(add, h)
		}
	}
	var old []*Session
	for _, s := range cur {
		if !kept[s] {
			old = append(old, s)
		}
	}
	slices.SortStableFunc(old, func(a, b *Session) int { return boolRank(b.State() == StateBound) - boolRank(a.State() == StateBound) })
	n := min(len(old), len(add))
	var replace, surplus, added []step
	for i := range n {
		replace = append(replace, step{host: &add[i], old: old[i]})
	}
	for _, s := range old[n:] {
		surplus = append(surplus, step{old: s})
	}
	for i := n; i < len(add); i++ {
		added = append(added, step{host: &add[i]})
	}
	first := min(1, n)
	return slices.Concat(replace[:first], surplus, replace[first:], added), proven
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// stopped reports a rollout that stopped at steps[i] with err, having
// undone that step.
func stopped(err error, steps []step, i int) error {
	if i == 0 {
		return fmt.Errorf("%w; no session was changed", err)
	}
	left := 0
	for _, st := range steps[i:] {
		if st.old != nil {
			left++
		}
	}
	return fmt.Errorf("%w; stopped after %d of %d steps: the sessions already replaced keep the new settings, %d keep the old ones",
		err, i, len(steps), left)
}

// add makes a slot on h with cfg's settings, lists it and starts it.
func (p *Pool) add(cfg *Config, h Host) (*Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing.Load() {
		return nil, ErrClosing
	}
	s := p.newSession(cfg, h)
	ss := append(slices.Clone(p.Sessions()), s)
	p.slots.Store(&ss)
	p.start(s)
	return s, nil
}

// waitBound waits until s is bound, for wait at most.
func (p *Pool) waitBound(ctx context.Context, s *Session, wait time.Duration) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		room := p.Room() // publish signals it
		if s.State() == StateBound {
			return nil
		}
		select {
		case <-room:
		case <-deadline.C:
			why := "still " + s.State().String()
			if err := s.LastFailure().Err; err != nil {
				why = "last attempt: " + err.Error()
			}
			return fmt.Errorf("upstream: the new session to %s did not bind within %v (%s)", s.host.Address, wait, why)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// retire takes s out of the pool: no new submits or reports, no
// reconnect. It waits up to s's ResponseTimeout for the submits in flight
// to be answered and the reports handed on to be replied, unbinds, waits
// for the slot's goroutine and drops s from Sessions. When ctx ends first
// it returns the cause and leaves s, retiring, to Shutdown or Close.
func (p *Pool) retire(ctx context.Context, s *Session) error {
	s.mu.Lock() // a Submit holding mu has added its entry; none adds one after
	s.retiring.Store(true)
	if s.State() == StateBound {
		s.setState(StateDraining)
	}
	s.mu.Unlock()
	s.stopCancel(errRetired) // ends a dial, bind or back-off; no reconnect
	one := []*Session{s}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ResponseTimeout)
	_ = p.waitIdle(wctx, one)
	p.drain(wctx, one, s.cfg.ResponseTimeout)
	cancel()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	s.unbind()
	select {
	case <-s.ended:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	p.mu.Lock()
	ss := slices.DeleteFunc(slices.Clone(p.Sessions()), func(x *Session) bool { return x == s })
	p.slots.Store(&ss)
	p.mu.Unlock()
	s.log.Info("session retired")
	return nil
}
