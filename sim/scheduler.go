package sim

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// event is one delayed action: a submit_sm_resp (sess non-nil), maybe
// followed by a receipt, or a final receipt (sess nil).
type event struct {
	at    time.Duration // due, since Server.start
	sess  *session      // where the submit_sm_resp goes; nil for a final receipt
	seq   uint32
	msgID string
	rcpt  *receipt // receipt that follows, or nil
	echo  *report  // MO that follows (Config.EchoNumber), or nil
	acct  *account // of the session, for echo
}

// fifo is a queue of events in due order. Every delay is a constant of the
// Config, so events pushed in time order come out in time order and no heap
// is needed.
type fifo struct {
	buf  []event
	head int
}

func (q *fifo) len() int { return len(q.buf) - q.head }

func (q *fifo) push(e event) { q.buf = append(q.buf, e) }

// popDue appends the events due by now to dst and returns it with the due
// time of the next one (0: none left).
func (q *fifo) popDue(now time.Duration, dst []event) ([]event, time.Duration) {
	for q.head < len(q.buf) && q.buf[q.head].at <= now {
		dst = append(dst, q.buf[q.head])
		q.buf[q.head] = event{}
		q.head++
	}
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
		return dst, 0
	}
	if q.head > 1024 && q.head > len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return dst, q.buf[q.head].at
}

// scheduler runs delayed submit_sm_resp and receipts for a whole Server on
// one goroutine, so nothing needs a timer or goroutine per PDU.
type scheduler struct {
	srv  *Server
	wake chan struct{} // a queue went from empty to not empty

	mu     sync.Mutex // guards resps and finals
	resps  fifo       // due RespLatency after their submit_sm
	finals fifo       // due DLRDelay after their submit_sm_resp
}

func newScheduler(s *Server) *scheduler {
	return &scheduler{srv: s, wake: make(chan struct{}, 1)}
}

func (q *scheduler) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pushResp schedules a submit_sm_resp RespLatency from now.
func (q *scheduler) pushResp(ss *session, seq uint32, msgID string, rc *receipt, echo *report) {
	q.mu.Lock()
	empty := q.resps.len() == 0
	q.resps.push(event{at: q.srv.since() + q.srv.cfg.RespLatency, sess: ss, seq: seq, msgID: msgID, rcpt: rc, echo: echo, acct: ss.acct})
	q.mu.Unlock()
	if empty {
		q.signal()
	}
}

// pushFinal schedules the final receipt DLRDelay from now.
func (q *scheduler) pushFinal(rc *receipt) {
	q.mu.Lock()
	empty := q.finals.len() == 0
	q.finals.push(event{at: q.srv.since() + q.srv.cfg.DLRDelay, rcpt: rc})
	q.mu.Unlock()
	if empty {
		q.signal()
	}
}

// run fires due events until ctx ends; events still queued then are
// dropped, as a stopped SMSC would.
func (q *scheduler) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []event
	var buf []byte
	for {
		now := q.srv.since()
		var nextResp, nextFinal time.Duration
		q.mu.Lock()
		due, nextResp = q.resps.popDue(now, due[:0])
		nResps := len(due)
		due, nextFinal = q.finals.popDue(now, due)
		q.mu.Unlock()

		for i := range due[:nResps] {
			buf = q.respond(&due[i], buf)
		}
		q.finish(due[nResps:])
		clear(due)

		next := nextResp
		if next == 0 || (nextFinal != 0 && nextFinal < next) {
			next = nextFinal
		}
		if next != 0 {
			t.Reset(max(next-q.srv.since(), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-t.C:
		}
	}
}

// respond sends one delayed submit_sm_resp and starts its receipts and
// echo.
func (q *scheduler) respond(e *event, buf []byte) []byte {
	buf = appendSubmitResp(buf[:0], e.seq, e.msgID, !q.srv.cfg.MessageIDNoNUL)
	_ = e.sess.conn.Send(buf) // a closed session misses it; the message stays accepted
	q.srv.afterResp(e.acct, e.rcpt, e.echo)
	return buf
}

// finish enqueues the final receipts of due events, each on its account,
// shuffled first when Config.DLRShuffle asks.
func (q *scheduler) finish(due []event) {
	if len(due) == 0 {
		return
	}
	if q.srv.cfg.DLRShuffle {
		rand.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	}
	now := time.Now()
	var batch []*report
	var acct *account
	for i := range due {
		rc := due[i].rcpt
		if rc.acct != acct && len(batch) > 0 {
			acct.enqueueBatch(batch)
			batch = batch[:0]
		}
		acct = rc.acct
		batch = append(batch, rc.report(pdu.StatDelivered, pdu.StateDelivered, now))
		if rc.enrouteLate {
			batch = append(batch, rc.report(pdu.StatEnroute, pdu.StateEnroute, now))
		}
	}
	acct.enqueueBatch(batch)
}

// appendSubmitResp appends a successful submit_sm_resp carrying msgID,
// NUL terminated unless nul is false.
func appendSubmitResp(dst []byte, seq uint32, msgID string, nul bool) []byte {
	n := len(msgID)
	if nul {
		n++
	}
	h := pdu.Header{Length: uint32(pdu.HeaderLen + n), ID: pdu.CmdSubmitSMResp, Seq: seq}
	dst = h.AppendTo(dst)
	dst = append(dst, msgID...)
	if nul {
		dst = append(dst, 0)
	}
	return dst
}
