package upstream

import (
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// Causes a connection ends with, besides link's and the network's.
var (
	errUnbound       = errors.New("upstream: unbound")
	errPeerUnbound   = errors.New("upstream: provider sent unbind")
	errUnbindTimeout = errors.New("upstream: no unbind_resp in time")
	errPoolStopped   = errors.New("upstream: pool stopped")
	errRetired       = errors.New("upstream: slot retired by Reconfigure")
)

// connLink is one bound connection as link.Conn sees it: its link.Handler
// and link.Ticker, kept off Session's exported method set.
type connLink struct {
	s *Session
	c *conn
}

// HandleFrame implements link.Handler. It runs on the read goroutine;
// enquire_link and enquire_link_resp never reach it.
func (l connLink) HandleFrame(lc *link.Conn, frame []byte) error {
	s := l.s
	h, _ := pdu.DecodeHeader(frame) // link hands over at least a header
	if ce := s.log.Check(zap.DebugLevel, "pdu received"); ce != nil {
		ce.Write(zap.Uint32("seq", h.Seq), zap.Stringer("command_id", h.ID), zap.Stringer("command_status", h.Status))
	}
	switch h.ID {
	case pdu.CmdSubmitSMResp:
		l.response(h, frame)
	case pdu.CmdGenericNack:
		// A generic_nack for one of our submit_sm is its answer, with the
		// nack's status (SMPP 3.4 §4.3); one for anything else is noise.
		st := h.Status
		if st == pdu.StatusOK {
			st = pdu.StatusUnknownErr // a generic_nack never acknowledges
		}
		var b [pdu.HeaderLen]byte
		l.response(pdu.Header{ID: pdu.CmdSubmitSMResp, Status: st, Seq: h.Seq}, pdu.AppendHeaderOnly(b[:0], pdu.CmdSubmitSMResp, st, h.Seq))
	case pdu.CmdDeliverSM:
		if s.pool.draining.Load() || s.retiring.Load() || l.c.unbindBy.Load() != 0 {
			// Stopping: refuse new reports with a temporary error rather
			// than store them; the provider keeps them and sends them to
			// the next bind, so none is stored twice.
			var b [pdu.HeaderLen + 1]byte
			_ = lc.Send(pdu.Append(b[:0], pdu.CmdDeliverSMResp, pdu.StatusTempAppErr, h.Seq, &pdu.SMResp{}))
			return nil
		}
		l.c.unreplied.Add(1)
		s.pool.handler.Deliver(s, l.c.gen, frame)
	case pdu.CmdUnbind:
		lc.SendAndClose(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, pdu.StatusOK, h.Seq), errPeerUnbound)
	case pdu.CmdUnbindResp:
		if l.c.unbindBy.Load() != 0 {
			l.c.unbindAcked.Store(true)
			if l.c.unreplied.Load() <= 0 {
				lc.SendAndClose(nil, errUnbound) // flush what is queued, then close
			}
			return nil // else close once the reports received are answered (Reply, Tick)
		}
		l.ignored(h)
	default:
		if h.ID.IsResp() {
			l.ignored(h)
			return nil
		}
		// A request we do not serve: its own response if it has one,
		// else generic_nack, with ESME_RINVCMDID.
		id := pdu.CmdGenericNack
		if h.ID.Known() && h.ID.Resp().Known() {
			id = h.ID.Resp()
		}
		var b [pdu.HeaderLen]byte
		_ = lc.Send(pdu.AppendHeaderOnly(b[:0], id, pdu.StatusInvCmdID, h.Seq))
	}
	return nil
}

// response matches a submit_sm_resp with its submit_sm. ESME_RTHROTTLED
// pauses the session before the waiter hears of it, so a waiter retrying
// at once does not pick this session again.
func (l connLink) response(h pdu.Header, frame []byte) {
	s := l.s
	p, ok := l.c.win.Take(h.Seq)
	if !ok {
		l.ignored(h)
		return
	}
	now := l.c.link.ReadTime() // the read that brought this response
	s.lat.observe(time.Duration(now.UnixNano() - p.sent))
	s.responses.add(h.Status)
	if h.Status == pdu.StatusThrottled {
		s.throttleUntil.Store(now.Add(s.cfg.ThrottlePause).UnixNano())
	}
	s.done(p, frame, nil)
	s.pool.signalRoom()
}

// ignored logs, at Debug, a response that matched nothing: late, unknown
// or unexpected.
func (l connLink) ignored(h pdu.Header) {
	if ce := l.s.log.Check(zap.DebugLevel, "response to nothing waiting ignored"); ce != nil {
		ce.Write(zap.Uint32("seq", h.Seq), zap.Stringer("command_id", h.ID), zap.Stringer("command_status", h.Status))
	}
}

// Tick implements link.Ticker. It runs on link's timer: it times
// out submit_sm without a response, ends a throttle pause (waking Room
// waiters) and ends an unbind the provider does not answer.
func (l connLink) Tick(lc *link.Conn, now time.Time) {
	s := l.s
	n := 0
	l.c.win.Expire(now, func(seq uint32, p pending) {
		n++
		if ce := s.log.Check(zap.DebugLevel, "submit_sm timed out"); ce != nil {
			ce.Write(zap.Uint32("seq", seq), zap.Uint64("ref", p.ref))
		}
		s.done(p, nil, ErrTimeout)
	})
	if until := s.throttleUntil.Load(); until != 0 && now.UnixNano() >= until && s.throttleUntil.CompareAndSwap(until, 0) {
		n++
	}
	if n > 0 {
		s.pool.signalRoom()
	}
	if by := l.c.unbindBy.Load(); by != 0 && now.UnixNano() > by {
		lc.Close(errUnbindTimeout)
	}
	if l.c.unbindAcked.Load() && l.c.unreplied.Load() <= 0 {
		lc.SendAndClose(nil, errUnbound)
	}
}
