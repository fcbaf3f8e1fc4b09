package sim

import (
	"net"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// scInterfaceVersion is the TLV part of every bind_*_resp: sc_interface_version 0x34.
var scInterfaceVersion = pdu.AppendTLV(nil, pdu.TagSCInterfaceVersion, []byte{pdu.InterfaceVersion34})

// session is one connection to the simulator. It is the link.Handler of
// its link.Conn: HandleFrame runs on the read loop, Tick on link's timer.
type session struct {
	srv  *Server
	host *host
	id   uint64
	conn *link.Conn
	win  *link.Window[*report] // deliver_sm sent, not yet answered

	bound  atomic.Bool             // set once by the read loop; read by Shutdown
	rxAcct atomic.Pointer[account] // set when bound as receiver or transceiver; read by Tick

	// Owned by the read loop (and by endSession, after Serve returned).
	log  *zap.Logger
	mode pdu.CommandID // the bind command that bound the session
	acct *account
	buf  []byte // responses being built
}

func newSession(s *Server, h *host, nc net.Conn, id uint64) *session {
	ss := &session{srv: s, host: h, id: id, win: link.NewWindow[*report](s.cfg.Window)}
	ss.conn = link.New(nc, link.Config{MaxLength: s.cfg.MaxLength, Tick: s.cfg.Tick})
	ss.log = s.log.With(zap.Uint64("session", id), zap.String("host", h.addr),
		zap.Stringer("remote", nc.RemoteAddr()))
	return ss
}

// HandleFrame implements link.Handler. enquire_link never gets here: the
// link answers it.
func (ss *session) HandleFrame(_ *link.Conn, frame []byte) error {
	id, seq := pdu.ID(frame), pdu.Seq(frame)
	if ce := ss.log.Check(zap.DebugLevel, "pdu in"); ce != nil {
		ce.Write(zap.Stringer("command_id", id), zap.Uint32("seq", seq))
	}
	switch {
	case id == pdu.CmdSubmitSM:
		ss.submit(frame)
	case id == pdu.CmdDeliverSMResp, id == pdu.CmdGenericNack:
		ss.deliverResp(frame)
	case id.IsBind():
		ss.bind(id, frame)
	case id == pdu.CmdUnbind:
		ss.conn.SendAndClose(pdu.AppendHeaderOnly(ss.buf[:0], pdu.CmdUnbindResp, pdu.StatusOK, seq), nil)
	case id == pdu.CmdUnbindResp:
		return errUnbound // our unbind (Shutdown) was answered
	case id.IsResp():
		// A response to nothing we asked: ignore it.
	default:
		// Unknown commands, and those the provider does not support
		// (query_sm, data_sm, submit_multi, ...), SMPP 3.4 §4.3.
		ss.reply(pdu.CmdGenericNack, pdu.StatusInvCmdID, seq)
	}
	return nil
}

// reply sends a header-only response.
func (ss *session) reply(id pdu.CommandID, st pdu.Status, seq uint32) {
	ss.buf = pdu.AppendHeaderOnly(ss.buf[:0], id, st, seq)
	_ = ss.conn.Send(ss.buf)
}

// bind handles the three bind requests (SMPP 3.4 §4.1).
func (ss *session) bind(id pdu.CommandID, frame []byte) {
	s, seq := ss.srv, pdu.Seq(frame)
	if ss.bound.Load() {
		s.stats.bindFailures.Add(1)
		ss.reply(id.Resp(), pdu.StatusAlreadyBound, seq)
		return
	}
	var b pdu.Bind
	st := pdu.StatusOK
	if err := b.Decode(frame[pdu.HeaderLen:]); err != nil {
		st = pdu.StatusOf(err)
	} else if s.closing() {
		st = pdu.StatusBindFail
	} else {
		st = s.checkCredentials(string(b.SystemID), string(b.Password))
	}
	if st != pdu.StatusOK {
		s.stats.bindFailures.Add(1)
		ss.log.Info("bind refused", zap.String("system_id", string(b.SystemID)),
			zap.Stringer("command_status", st))
		ss.conn.SendAndClose(pdu.AppendHeaderOnly(ss.buf[:0], id.Resp(), st, seq), nil)
		return
	}
	ss.acct = s.account(string(b.SystemID))
	ss.mode = id
	ss.log = ss.log.With(zap.String("system_id", ss.acct.systemID), zap.String("bind_type", bindType(id)))
	ss.bound.Store(true)
	s.stats.binds.Add(1)
	s.stats.bound.Add(1)
	ss.buf = pdu.Append(ss.buf[:0], id.Resp(), pdu.StatusOK, seq,
		&pdu.BindResp{SystemID: []byte(SystemID), TLVs: scInterfaceVersion})
	_ = ss.conn.Send(ss.buf)
	ss.log.Info("bound")
	if id != pdu.CmdBindTransmitter {
		ss.rxAcct.Store(ss.acct)
		ss.acct.addReceiver(ss) // after bind_resp: reports may follow at once
	}
}

func bindType(id pdu.CommandID) string {
	switch id {
	case pdu.CmdBindReceiver:
		return "receiver"
	case pdu.CmdBindTransmitter:
		return "transmitter"
	}
	return "transceiver"
}

// submit handles submit_sm: admission (throttles, scripted errors),
// validation as the provider does it, the record, the response (now or
// after RespLatency) and the receipts.
func (ss *session) submit(frame []byte) {
	s, seq := ss.srv, pdu.Seq(frame)
	if !ss.bound.Load() || ss.mode == pdu.CmdBindReceiver {
		ss.reply(pdu.CmdSubmitSMResp, pdu.StatusInvBindStatus, seq)
		return
	}
	n := s.stats.submits.Add(1)
	var m pdu.SM
	err := m.Decode(frame[pdu.HeaderLen:])
	st := pdu.StatusOf(err)
	if err == nil {
		st = ss.admit(n, &m)
	}
	var msgID string
	if st == pdu.StatusOK {
		msgID = s.cfg.MessageID(s.ids.Add(1))
	}
	if err == nil {
		s.record(ss, seq, st, msgID, &m)
	}
	switch st {
	case pdu.StatusOK:
		s.stats.accepted.Add(1)
	case pdu.StatusThrottled:
		s.stats.throttled.Add(1)
	default:
		s.stats.rejected.Add(1)
	}
	if st != pdu.StatusOK {
		// SMPP 3.4 §4.4.2: no body when command_status is not 0.
		ss.reply(pdu.CmdSubmitSMResp, st, seq)
		return
	}
	var rc *receipt
	if m.WantsReceipt() {
		rc = newReceipt(ss.acct, msgID, &m, time.Now())
	}
	var echo *report
	if s.cfg.EchoNumber != "" && sameNumber(string(m.DestAddr), s.cfg.EchoNumber) {
		echo = echoReport(s.cfg.EchoNumber, &m)
	}
	if s.cfg.RespLatency > 0 {
		s.sched.pushResp(ss, seq, msgID, rc, echo)
		return
	}
	ss.buf = appendSubmitResp(ss.buf[:0], seq, msgID, !s.cfg.MessageIDNoNUL)
	_ = ss.conn.Send(ss.buf)
	s.afterResp(ss.acct, rc, echo)
}

// admit applies the scripted throttles and errors, then validates.
func (ss *session) admit(n uint64, m *pdu.SM) pdu.Status {
	cfg := &ss.srv.cfg
	switch {
	case ss.srv.throttle.Load():
		return pdu.StatusThrottled
	case cfg.ThrottleEvery > 0 && n%uint64(cfg.ThrottleEvery) == 0:
		return pdu.StatusThrottled
	case cfg.ErrorEvery > 0 && n%uint64(cfg.ErrorEvery) == 0:
		return cfg.ErrorStatus
	case !ss.acct.allowSubmit(time.Now()):
		return pdu.StatusThrottled
	}
	return validate(m)
}

// validate checks a submit_sm as the seed says the provider does.
func validate(m *pdu.SM) pdu.Status {
	switch {
	case m.DestTON > 1: // only TON 0 and 1; 0 is read as 1
		return pdu.StatusInvDstTON
	case len(m.ScheduleDeliveryTime) != 0: // no scheduling support
		return pdu.StatusInvSched
	case !mtDataCoding(m.DataCoding):
		return pdu.StatusSubmitFail // SMPP 3.4 has no ESME_RINVDCS
	case pdu.CheckText(m.DataCoding, m.Text()) != nil:
		return pdu.StatusSubmitFail
	}
	return pdu.StatusOK
}

// mtDataCoding reports whether the provider accepts dc in submit_sm: the
// seed's table (0, 1, 2, 3, 4, 6, 8, 24 = 0x18, 240 = 0xF0).
func mtDataCoding(dc byte) bool {
	switch dc {
	case 0, 1, 2, 3, 4, 6, 8, 0x18, 0xF0:
		return true
	}
	return false
}

// deliverResp handles deliver_sm_resp and generic_nack: the report leaves
// the window; an error answer queues it again.
func (ss *session) deliverResp(frame []byte) {
	r, ok := ss.win.Take(pdu.Seq(frame))
	if !ok {
		return
	}
	a := ss.rxAcct.Load()
	h, _ := pdu.DecodeHeader(frame)
	if h.ID != pdu.CmdDeliverSMResp || h.Status != pdu.StatusOK {
		a.requeue(r)
		return
	}
	if r.mo {
		ss.srv.stats.mosAcked.Add(1)
	} else {
		ss.srv.stats.dlrsAcked.Add(1)
	}
	a.freed()
}

// Tick implements link.Ticker: deliver_sm unanswered past DeliverTimeout
// are queued again for any session.
func (ss *session) Tick(_ *link.Conn, now time.Time) {
	a := ss.rxAcct.Load()
	if a == nil {
		return
	}
	ss.win.Expire(now, func(_ uint32, r *report) { a.requeue(r) })
}
