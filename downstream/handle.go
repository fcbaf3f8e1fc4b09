package downstream

import (
	"fmt"
	"net/netip"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// serverSystemID is the system_id of every bind_*_resp.
var serverSystemID = []byte("smpp-mux")

// scVersion is TLV sc_interface_version 0x34, sent in a successful
// bind_*_resp to a client of interface_version 0x34 or later (SMPP 3.4
// §4.1.2).
var scVersion = pdu.TLVs(pdu.AppendTLV(nil, pdu.TagSCInterfaceVersion, []byte{pdu.InterfaceVersion34}))

// sessionLink is the session as link.Conn sees it: a link.Handler and a
// link.Ticker, kept off Session's exported method set.
type sessionLink struct{ s *Session }

// HandleFrame implements link.Handler. It runs on the read goroutine;
// enquire_link never reaches it (link answers it).
func (l sessionLink) HandleFrame(c *link.Conn, frame []byte) error {
	s := l.s
	h, _ := pdu.DecodeHeader(frame) // ReadFrame returns at least a header
	if ce := s.debug("pdu received"); ce != nil {
		s.logPDU(ce, h)
	}
	switch h.ID {
	case pdu.CmdBindReceiver, pdu.CmdBindTransmitter, pdu.CmdBindTransceiver:
		s.handleBind(h, frame)
	case pdu.CmdSubmitSM:
		return s.handleSubmit(h, frame)
	case pdu.CmdDeliverSMResp, pdu.CmdGenericNack:
		s.handleDeliverResp(h)
	case pdu.CmdUnbind:
		s.peerUnbind(c, h.Seq)
	case pdu.CmdUnbindResp:
		if s.unbinding.Load() {
			c.SendAndClose(nil, ErrUnbound) // flush what is queued, then close
		}
	case pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM, pdu.CmdSubmitMulti, pdu.CmdDataSM, pdu.CmdDeliverSM:
		// Requests of SMPP 3.4 the mux does not serve (deliver_sm goes
		// from SMSC to ESME only): their own response, ESME_RINVCMDID.
		s.reply(h.ID.Resp(), s.unservedStatus(), h.Seq)
	case pdu.CmdOutbind, pdu.CmdAlertNotification:
		// Sent by an SMSC, never to one; they have no response PDU.
		s.reply(pdu.CmdGenericNack, s.unservedStatus(), h.Seq)
	default:
		if !h.ID.Known() {
			s.reply(pdu.CmdGenericNack, pdu.StatusInvCmdID, h.Seq)
		} else if ce := s.debug("unexpected response ignored"); ce != nil {
			s.logPDU(ce, h)
		}
	}
	return nil
}

// logPDU writes a debug line about the PDU with header h. It is a
// function of its own so that HandleFrame's frame stays small: the
// session goroutine's stack holds it while the session waits idle.
//
//go:noinline
func (s *Session) logPDU(ce *zapcore.CheckedEntry, h pdu.Header) {
	ce.Write(s.fields(zap.Uint32("seq", h.Seq), zap.Stringer("command_id", h.ID), zap.Stringer("command_status", h.Status))...)
}

// Tick implements link.Ticker. It runs on link's timer: it times out
// unanswered deliver_sm and ends an unbind the client does not answer. A
// panic in Handler.Delivered closes this session only; the other expired
// entries still get their Delivered.
func (l sessionLink) Tick(c *link.Conn, now time.Time) {
	s := l.s
	if b := s.bound.Load(); b != nil {
		s.window.Expire(now, func(seq uint32, ref string) {
			if ce := s.debug("deliver_sm timed out"); ce != nil {
				ce.Write(s.fields(zap.Uint32("seq", seq))...)
			}
			if err := s.guard(func() { b.handler.Delivered(s, ref, 0, ErrTimeout) }); err != nil {
				c.Close(err)
			}
		})
	}
	if s.unbindExpired(now) {
		c.Close(fmt.Errorf("%w: no unbind_resp in time", ErrUnbound))
	}
}

// unservedStatus is the answer to a request the mux does not serve:
// ESME_RINVBNDSTS before bind, else ESME_RINVCMDID.
func (s *Session) unservedStatus() pdu.Status {
	if s.bound.Load() == nil {
		return pdu.StatusInvBindStatus
	}
	return pdu.StatusInvCmdID
}

// handleBind answers a bind_* PDU: ESME_RALYBND on a bound session, else
// the Binder's verdict, unless the remote IP is locked out or already has
// as many checks running as its lockout allows failures.
func (s *Session) handleBind(h pdu.Header, frame []byte) {
	if s.bound.Load() != nil {
		_ = s.conn.Send(bindResp(h, pdu.StatusAlreadyBound, false))
		return
	}
	var b *boundState
	var v34 bool
	s.aside(func() { b, v34 = s.checkBind(h, frame) })
	if b == nil {
		return // refused, and answered
	}
	_ = s.conn.Send(bindResp(h, pdu.StatusOK, v34))
	s.bound.Store(b) // after bind_resp is queued, so no deliver_sm overtakes it
	s.srv.markBound(s)
	s.aside(func() {
		if s.srv.log.Core().Enabled(zap.InfoLevel) { // see debug
			s.Logger().Info("bound")
		}
		if bh, ok := b.handler.(BoundHandler); ok {
			bh.Bound(s)
		}
	})
}

// checkBind decodes a bind, runs the check and refuses it when it fails
// (nil); it returns the bound state and whether the client speaks 3.4.
func (s *Session) checkBind(h pdu.Header, frame []byte) (*boundState, bool) {
	var req pdu.Bind
	if err := req.Decode(frame[pdu.HeaderLen:]); err != nil {
		s.srv.bindsMalformed.Add(1)
		s.countFailure()
		s.refuse(h, pdu.StatusOf(err), "", "bind refused: does not decode")
		return nil, false
	}
	ip, ipOK := ipOf(s.remote)
	if ipOK && !s.beginCheck(ip) {
		s.srv.bindsLocked.Add(1)
		s.refuse(h, pdu.StatusBindFail, string(req.SystemID), "bind refused: remote locked out")
		return nil, false
	}
	// A check begun must end, even if the Binder panics (the read loop
	// recovers it): else the address keeps a check running for ever, and
	// its next binds wait for it.
	ended := !ipOK
	defer func() {
		if !ended {
			s.srv.lock.End(ip, time.Now(), true)
		}
	}()
	typ := bindTypeOf(h.ID)
	handler, st := s.check(BindRequest{
		Type:       typ,
		SystemID:   string(req.SystemID),
		Password:   string(req.Password),
		SystemType: string(req.SystemType),
		Remote:     s.remote,
	})
	if st == pdu.StatusOK && handler == nil {
		st = pdu.StatusBindFail
	}
	if !ended {
		ended = true
		s.endCheck(ip, st != pdu.StatusOK)
	}
	if st != pdu.StatusOK {
		s.refuse(h, st, string(req.SystemID), "bind refused") // the Binder logs why
		return nil, false
	}
	_ = s.conn.NetConn().SetReadDeadline(time.Time{}) // bound: the bind timeout no longer applies
	return &boundState{typ: typ, systemID: string(req.SystemID), handler: handler}, req.InterfaceVersion >= pdu.InterfaceVersion34
}

// beginCheck waits for the remote IP's turn to run a bind check; false
// means the IP is locked out, or the session or the server is closing.
func (s *Session) beginCheck(ip netip.Addr) bool {
	// The bind timeout is a read deadline, and nothing is read while a
	// bind waits here: bound the wait by it too.
	timeout := time.NewTimer(s.srv.cfg.BindTimeout)
	defer timeout.Stop()
	for {
		ok, wait := s.srv.lock.Begin(ip, time.Now())
		switch {
		case ok:
			return true
		case wait == nil:
			return false
		}
		select {
		case <-wait:
		case <-timeout.C:
			return false
		case <-s.conn.Done():
			return false
		case <-s.srv.quit:
			return false
		}
	}
}

// check runs the Binder on one of the Server's MaxBindChecks slots, so
// that bind checks (bcrypt) never take more than their share of the CPU
// from bound sessions, however many binds arrive at once. A connection
// that closes, or a server that stops, while waiting for a slot is
// refused without a check.
func (s *Session) check(req BindRequest) (Handler, pdu.Status) {
	timeout := time.NewTimer(s.srv.cfg.BindTimeout) // see beginCheck
	defer timeout.Stop()
	select {
	case s.srv.checks <- struct{}{}:
	case <-timeout.C:
		return nil, pdu.StatusBindFail
	case <-s.conn.Done():
		return nil, pdu.StatusBindFail
	case <-s.srv.quit:
		return nil, pdu.StatusBindFail
	}
	defer func() { <-s.srv.checks }()
	return s.srv.binder.Bind(s, req)
}

// aside runs fn on a goroutine of its own and waits for it; a panic is
// raised again here, as a *link.PanicError with the stack where it began,
// and link's read loop recovers it as on the session goroutine (cause
// unwraps it). A bind's work (decoding, the Binder with its bcrypt and
// logging, the Handler's Bound) needs a deep stack: run on the session
// goroutine it would grow that goroutine's stack from 2 to 4 or 8 KiB, and
// a stack never shrinks below four times what its goroutine uses parked,
// so every idle bound session would keep the larger stack.
func (s *Session) aside(fn func()) {
	var panicked *link.PanicError
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				panicked = &link.PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		fn()
	}()
	<-done
	if panicked != nil {
		panic(panicked)
	}
}

// refuse answers a bind with status and closes the connection once the
// answer is written. The failure, if it counts towards the lockout, has
// been recorded before, so that a client retrying at once meets it.
func (s *Session) refuse(h pdu.Header, st pdu.Status, systemID, why string) {
	if ce := s.debug(why); ce != nil {
		ce.Write(s.fields(zap.String("system_id", systemID), zap.Stringer("command_status", st))...)
	}
	s.conn.SendAndClose(bindResp(h, st, false), fmt.Errorf("%w: %v", ErrBindRefused, st))
}

// endCheck records the end of a bind check against the remote IP, and
// logs once when its failure locks the IP out.
func (s *Session) endCheck(ip netip.Addr, failed bool) {
	if lockedNow, until := s.srv.lock.End(ip, time.Now(), failed); lockedNow {
		s.logLockout(ip, until)
	}
}

// countFailure records a failed bind against the remote IP that was not a
// check (a bind PDU that does not decode).
func (s *Session) countFailure() {
	ip, ok := ipOf(s.remote)
	if !ok {
		return
	}
	if lockedNow, until := s.srv.lock.Fail(ip, time.Now()); lockedNow {
		s.logLockout(ip, until)
	}
}

// logLockout counts a lockout that has just begun and logs it, once.
func (s *Session) logLockout(ip netip.Addr, until time.Time) {
	s.srv.lockouts.Add(1)
	s.srv.log.Warn("remote locked out after failed binds",
		zap.String("remote_ip", ip.String()), zap.Int("bind_fail_limit", s.srv.cfg.BindFailLimit), zap.Time("until", until))
}

// handleSubmit answers what the session cannot take and hands the rest to
// the Handler.
func (s *Session) handleSubmit(h pdu.Header, frame []byte) error {
	b := s.bound.Load()
	switch {
	case b == nil || !b.typ.CanSubmit():
		s.reply(pdu.CmdSubmitSMResp, pdu.StatusInvBindStatus, h.Seq)
		return nil
	case s.unbinding.Load():
		// We are unbinding (shutdown): a temporary status, so the client
		// submits it again elsewhere or later.
		s.reply(pdu.CmdSubmitSMResp, pdu.StatusMsgQueueFull, h.Seq)
		return nil
	}
	var m pdu.SM
	if err := m.Decode(frame[pdu.HeaderLen:]); err != nil {
		if ce := s.debug("submit_sm refused"); ce != nil {
			ce.Write(s.fields(zap.Uint32("seq", h.Seq), zap.Stringer("command_status", pdu.StatusOf(err)), zap.Error(err))...)
		}
		s.reply(pdu.CmdSubmitSMResp, pdu.StatusOf(err), h.Seq)
		return nil
	}
	return b.handler.Submit(s, frame)
}

// handleDeliverResp matches a deliver_sm_resp or generic_nack with the
// window.
func (s *Session) handleDeliverResp(h pdu.Header) {
	ref, ok := s.window.Take(h.Seq)
	b := s.bound.Load()
	if !ok || b == nil {
		if ce := s.debug("response to no deliver_sm ignored"); ce != nil {
			ce.Write(s.fields(zap.Uint32("seq", h.Seq), zap.Stringer("command_id", h.ID), zap.Stringer("command_status", h.Status))...)
		}
		return
	}
	st := h.Status
	if h.ID == pdu.CmdGenericNack && st == pdu.StatusOK {
		st = pdu.StatusUnknownErr // a generic_nack never acknowledges
	}
	b.handler.Delivered(s, ref, st, nil)
	if s.peerUnbound.Load() && s.window.Len() == 0 {
		s.conn.SendAndClose(nil, ErrUnbound) // the last answer after the client's unbind
	}
}

// peerUnbind answers the client's unbind. With deliver_sm still
// unanswered, the connection stays open, taking no new deliver_sm, until
// the client has answered them or unbindWait has passed: a client that
// unbinds and then answers what it had received (a batching client, or a
// slow one) is not sent those reports again after it binds anew. Without
// any, it closes once the unbind_resp is written.
func (s *Session) peerUnbind(c *link.Conn, seq uint32) {
	resp := headerOnly(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.window.Len() == 0 || s.closed {
		c.SendAndClose(resp, ErrUnbound)
		return
	}
	s.peerUnbound.Store(true)
	s.unbindBy = time.Now().Add(s.srv.cfg.unbindWait())
	s.unbinding.Store(true) // Deliver refuses from now on
	_ = c.Send(resp)
}

// reply queues a header-only response. SMPP 3.4 leaves the body out of a
// response whose status is not zero (§4.4.2 and others).
func (s *Session) reply(id pdu.CommandID, st pdu.Status, seq uint32) {
	var b [pdu.HeaderLen]byte
	_ = s.conn.Send(pdu.AppendHeaderOnly(b[:0], id, st, seq)) // Send copies
}

func headerOnly(id pdu.CommandID, st pdu.Status, seq uint32) []byte {
	return pdu.AppendHeaderOnly(make([]byte, 0, pdu.HeaderLen), id, st, seq)
}

// bindResp builds a bind_*_resp for the bind h: system_id "smpp-mux" and,
// when v34, TLV sc_interface_version.
func bindResp(h pdu.Header, st pdu.Status, v34 bool) []byte {
	body := pdu.BindResp{SystemID: serverSystemID}
	if v34 {
		body.TLVs = scVersion
	}
	return pdu.Append(make([]byte, 0, 32), h.ID.Resp(), st, h.Seq, &body)
}
