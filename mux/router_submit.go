package mux

import (
	"bytes"
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/downstream"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/upstream"
)

// binding is one bound client session: the downstream.Handler of its
// traffic and the upstream.Waiter of its submits.
type binding struct {
	r        *Router
	d        *Dispatcher
	fleet    *fleet // limits over the fleet; nil without a shared store
	c        *client
	s        *downstream.Session
	receiver bool
	inflight atomic.Int64 // submits sent upstream and not yet answered
	lease    store.Lease  // its slot of max_binds over the fleet; zero without one (fleet.go)

	// owned by the session's read goroutine
	msg    module.Message
	frame  []byte
	waited time.Time // when a submit last stopped waiting for room
}

// ref packs what SubmitDone needs about a submit into the upstream
// window's uint64: the client's sequence number, whether it asked for a
// receipt, and how often it was retried after ESME_RTHROTTLED.
const (
	refWantsReceipt = 1 << 32
	refAttemptShift = 33
	maxAttempts     = 3
)

func makeRef(seq uint32, wantsReceipt bool, attempt uint64) uint64 {
	r := uint64(seq) | attempt<<refAttemptShift
	if wantsReceipt {
		r |= refWantsReceipt
	}
	return r
}

// Submit implements downstream.Handler: one submit_sm of the client,
// called on the session's read goroutine. Blocking here (waiting for
// upstream room) is the backpressure: the client's next PDUs stay unread.
func (b *binding) Submit(s *downstream.Session, frame []byte) error {
	seq := pdu.Seq(frame)
	b.r.metrics.submits.Add(1)
	b.c.stats.submits.Add(1)
	// The read that brought the frame is a clock reading for free, unless
	// an earlier frame of that read waited for room since.
	now := s.ReadTime()
	if now.Before(b.waited) {
		now = time.Now()
	}
	if cc := b.c.conf.Load(); len(cc.rules) > 0 {
		var err error
		if frame, err = b.runRules(frame); err != nil {
			b.answer(seq, rejectStatus(err))
			if !isStatusError(err) {
				s.Logger().Error("rule failed", zap.Error(err))
			}
			return nil
		}
		now = time.Now() // rules can take a while (a plugin)
	}
	info, _ := pdu.PeekSubmit(frame)
	ref := makeRef(seq, info.RegisteredDelivery&pdu.RegisteredDlrMask != 0, 0)
	if st := b.r.route(b, now, frame, &info, ref, true); st != pdu.StatusOK {
		b.answer(seq, st)
	}
	return nil
}

// errClientRemoved answers a submit that meets its client's removal by a
// reload: the session is being unbound.
var errClientRemoved = &pdu.StatusError{Status: pdu.StatusMsgQueueFull, Reason: "client removed by a reload"}

// runRules runs the chain of the client's config in force, entered so
// that a reload does not clean its modules up under it.
func (b *binding) runRules(frame []byte) ([]byte, error) {
	cc, ok := b.c.enterConf()
	if !ok {
		return nil, errClientRemoved
	}
	defer cc.gen.leave()
	return b.applyRules(cc.rules, frame)
}

// applyRules runs the client's chain; a changed message is encoded anew
// into the binding's frame buffer.
func (b *binding) applyRules(rules chain, frame []byte) ([]byte, error) {
	out, err := ApplyRules(rules, &b.msg, b.c.id, frame, b.frame[:0])
	if err == nil && b.msg.Changed() {
		b.frame = out // keep the grown buffer for the next submit
	}
	return out, err
}

// rejectStatus is the command_status for an error of ApplyRules: a
// rejection's own status, a decode error's, and ESME_RSYSERR for any other
// error of a rule, as Rule documents (pdu.StatusOf would give
// ESME_RINVCMDLEN, blaming the client for the rule's failure).
func rejectStatus(err error) pdu.Status {
	var fe *pdu.FieldError
	if isStatusError(err) || errors.As(err, &fe) {
		return pdu.StatusOf(err)
	}
	return pdu.StatusSysErr
}

func isStatusError(err error) bool {
	var se *pdu.StatusError
	return errors.As(err, &se)
}

// answer sends the client a submit_sm_resp without a body.
func (b *binding) answer(seq uint32, st pdu.Status) {
	// Only the mux's own refusals come here; an accepted submit is always
	// answered with the provider's own submit_sm_resp.
	var buf [pdu.HeaderLen]byte
	b.r.metrics.answered(st)
	b.c.stats.answered(st)
	_ = b.s.Send(pdu.AppendHeaderOnly(buf[:0], pdu.CmdSubmitSMResp, st, seq))
}

// route sends a submit upstream. With wait, it waits up to submit_wait for
// a session with room, its client's fair share and max_rate's pace; it
// returns the status to answer when it could not. Without wait (a retry
// after ESME_RTHROTTLED) it tries once and skips the pace, since the
// attempt it replaces was paced already.
//
// now is the caller's reading of the clock; route reads it again when it
// has waited.
func (rt *Router) route(b *binding, now time.Time, frame []byte, info *pdu.SubmitInfo, ref uint64, wait bool) pdu.Status {
	key, hasKey := concatKey(b.c.id, info)
	var deadline time.Time
	waiting := false
	defer func() {
		if waiting {
			rt.fair.leave(b.c)
			b.waited = time.Now() // only a waiting route, on the read goroutine
		}
	}()
	for first := true; ; first = false {
		if !first {
			now = time.Now()
		}
		var pause time.Duration // with room but no token: wait this long
		if !wait || rt.fair.mayGo(b.c) {
			if s := rt.pick(now, key, hasKey); s != nil {
				ok := true
				if wait {
					ok, pause = rt.up.Load().pace.allow()
				}
				if ok {
					err := s.SubmitAt(now, frame, b, ref)
					if err == nil {
						b.inflight.Add(1)
						b.c.inflight.Add(1)
						if hasKey {
							rt.affinity.set(key, s, now)
						}
						return pdu.StatusOK
					}
					if errors.Is(err, upstream.ErrClosing) {
						return pdu.StatusThrottled
					}
					continue // lost a race for the window: pick again
				}
			}
		}
		if !wait {
			return pdu.StatusThrottled
		}
		if deadline.IsZero() {
			deadline = now.Add(rt.live.Load().submitWait)
		}
		if !waiting {
			waiting = true
			rt.fair.enter(b.c)
		}
		if !rt.waitRoom(deadline, pause) {
			rt.metrics.noRoom.Add(1)
			return pdu.StatusThrottled
		}
	}
}

// waitRoom waits until an upstream session may have room, another client's
// waiting submit went ahead, pause (when set) has passed, the deadline, or
// shutdown. It returns false at the deadline and at shutdown.
func (rt *Router) waitRoom(deadline time.Time, pause time.Duration) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	last := true
	if pause > 0 && pause < d {
		d, last = pause, false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-rt.up.Load().pool.Room():
		return true
	case <-rt.fair.wake():
		return true
	case <-t.C:
		return !last
	case <-rt.stopping:
		return false
	}
}

// SubmitDone implements upstream.Waiter: the provider's answer to one
// submit, or its absence. It runs on an upstream session's goroutines.
func (b *binding) SubmitDone(s *upstream.Session, ref uint64, req, resp []byte, sent time.Time, err error) {
	b.inflight.Add(-1)
	b.c.inflight.Add(-1)
	seq := uint32(ref)
	if err != nil {
		// The message may or may not have reached the provider: a
		// temporary status lets the client decide to retry.
		b.answer(seq, pdu.StatusMsgQueueFull)
		return
	}
	h, _ := pdu.DecodeHeader(resp)
	if h.ID == pdu.CmdGenericNack {
		b.answer(seq, h.Status)
		return
	}
	if h.Status == pdu.StatusThrottled {
		if attempt := ref >> refAttemptShift; attempt < maxAttempts {
			// Retry at once on another session with room; that session is
			// paused now, so pick does not choose it again.
			b.r.metrics.retries.Add(1)
			info, _ := pdu.PeekSubmit(req)
			if b.r.route(b, time.Now(), req, &info, makeRef(seq, ref&refWantsReceipt != 0, attempt+1), false) == pdu.StatusOK {
				return
			}
		}
	}
	pdu.PatchSeq(resp, seq)
	if ce := b.r.log.Check(zap.DebugLevel, "submit_sm answered"); ce != nil {
		var r pdu.SMResp
		_ = r.Decode(resp[pdu.HeaderLen:]) // debug only: no id for an error answer
		ce.Write(zap.String("system_id", b.c.id), zap.Uint64("session", b.s.ID()), zap.Uint32("seq", seq),
			zap.String("message_id", string(r.MessageID)), zap.String("upstream", s.Host()), zap.Int("upstream_session", s.Index()),
			zap.Stringer("command_status", h.Status), zap.Duration("latency", time.Since(sent)))
	}
	if h.Status == pdu.StatusOK && ref&refWantsReceipt != 0 {
		if id := b.r.respMessageID(resp); len(id) > 0 {
			b.r.intake.awaitID(idJob{b: b, id: IDKey(string(id)), resp: append([]byte(nil), resp...)})
			return
		}
	}
	b.r.metrics.answered(h.Status)
	b.c.stats.answered(h.Status)
	_ = b.s.Send(resp)
}

// respMessageID returns the message_id of a successful submit_sm_resp.
// One that is not the C-Octet String SMPP 3.4 §4.4.2 asks for (no NUL, or
// 65 octets and more) is taken as the octets the provider sent, up to a
// NUL if there is one, since its receipts will name those octets; it is
// logged and counted. The client's submit_sm_resp is the provider's, as
// sent, either way.
func (rt *Router) respMessageID(resp []byte) []byte {
	body := resp[pdu.HeaderLen:]
	var r pdu.SMResp
	err := r.Decode(body)
	if err == nil {
		return r.MessageID
	}
	id := body
	if i := bytes.IndexByte(body, 0); i >= 0 {
		id = body[:i]
	}
	rt.metrics.badMessageIDs.Add(1)
	rt.badIDLog.Warn("provider's submit_sm_resp message_id is not a valid C-Octet String; stored as the octets sent",
		zap.ByteString("message_id", id), zap.Int("octets", len(body)), zap.Error(err))
	return id
}

// Delivered implements downstream.Handler: the client's answer to one of
// its reports or MOs.
func (b *binding) Delivered(s *downstream.Session, ref string, st pdu.Status, err error) {
	b.d.delivered(b, ref, st, err)
}

// Bound implements downstream.BoundHandler: the bind_resp is on its way,
// deliveries may start.
func (b *binding) Bound(s *downstream.Session) {
	if b.receiver {
		b.c.notify()
	}
}

// Closed implements downstream.Handler.
func (b *binding) Closed(s *downstream.Session, err error) {
	b.c.remove(b) // downstream logs the end of the session
	b.fleet.unbind(b)
	if b.receiver {
		b.c.notify() // its dispatcher releases the slot if no receiver is left
	}
}

var (
	_ downstream.BoundHandler = (*binding)(nil)
	_ upstream.Waiter         = (*binding)(nil)
)
