package sim

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// report is one deliver_sm waiting to be sent or acknowledged: a delivery
// receipt or an MO. body is the encoded deliver_sm body, header excluded;
// it is immutable once made, so it may be sent again on another session.
type report struct {
	body []byte
	mo   bool
}

// account is one system_id: its bound receiver and transceiver sessions on
// every host, the reports waiting for them and its submit rate bucket.
// Reports are spread round-robin over all of rx, as the provider does.
type account struct {
	srv      *Server
	systemID string

	mu      sync.Mutex // guards the fields below
	rx      []*session // bound rx/trx sessions, in bind order
	next    int        // round-robin cursor into rx
	pending ring       // reports waiting for room in some session's window
	scratch []byte     // frame being built; owned by whoever holds mu
	bucket  bucket     // Config.Rate
}

func newAccount(s *Server, systemID string) *account {
	a := &account{srv: s, systemID: systemID}
	a.bucket.init(s.cfg.Rate)
	return a
}

// addReceiver makes ss eligible for reports and sends it what is waiting.
func (a *account) addReceiver(ss *session) {
	a.mu.Lock()
	a.rx = append(a.rx, ss)
	a.dispatchLocked()
	a.mu.Unlock()
}

// removeReceiver takes ss out of the rotation and queues the reports it
// had not acknowledged again, at the front, for the other sessions.
func (a *account) removeReceiver(ss *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i := slices.Index(a.rx, ss); i >= 0 {
		a.rx = slices.Delete(a.rx, i, i+1) // clears the stale tail pointer
	}
	ss.win.Drain(func(_ uint32, r *report) {
		a.srv.stats.resent.Add(1)
		a.pending.pushFront(r)
	})
	a.dispatchLocked()
}

// enqueue adds a report and sends it when a session has room.
func (a *account) enqueue(r *report) {
	a.mu.Lock()
	a.enqueueLocked(r)
	a.dispatchLocked()
	a.mu.Unlock()
}

// enqueueBatch adds several reports under one lock.
func (a *account) enqueueBatch(rs []*report) {
	a.mu.Lock()
	for _, r := range rs {
		a.enqueueLocked(r)
	}
	a.dispatchLocked()
	a.mu.Unlock()
}

func (a *account) enqueueLocked(r *report) {
	if a.pending.len() >= a.srv.cfg.MaxPending {
		a.srv.stats.dropped.Add(1)
		return
	}
	a.pending.pushBack(r)
}

// requeue puts back a report that was refused or timed out, and sends
// what now fits (a window slot was freed).
func (a *account) requeue(r *report) {
	a.srv.stats.resent.Add(1)
	a.mu.Lock()
	a.pending.pushBack(r)
	a.dispatchLocked()
	a.mu.Unlock()
}

// freed is called when a session's window lost an entry.
func (a *account) freed() {
	a.mu.Lock()
	if a.pending.len() > 0 {
		a.dispatchLocked()
	}
	a.mu.Unlock()
}

// dispatchLocked sends waiting reports while some session has room.
func (a *account) dispatchLocked() {
	shuffle := a.srv.cfg.DLRShuffle
	for a.pending.len() > 0 && len(a.rx) > 0 {
		if shuffle && a.pending.len() > 1 {
			a.pending.swapFront(rand.IntN(a.pending.len()))
		}
		if !a.sendLocked(a.pending.front()) {
			return
		}
		a.pending.popFront()
	}
}

// sendLocked writes r as a deliver_sm on the next session, round-robin,
// whose window has room. It reports false when none has.
func (a *account) sendLocked(r *report) bool {
	deadline := time.Now().Add(a.srv.cfg.DeliverTimeout)
	for range len(a.rx) {
		if a.next >= len(a.rx) {
			a.next = 0
		}
		ss := a.rx[a.next]
		a.next++
		if ss.win.Len() >= ss.win.Cap() {
			continue
		}
		seq := ss.conn.NextSeq()
		if !ss.win.Add(seq, r, deadline) {
			continue
		}
		h := pdu.Header{Length: uint32(pdu.HeaderLen + len(r.body)), ID: pdu.CmdDeliverSM, Seq: seq}
		a.scratch = append(h.AppendTo(a.scratch[:0]), r.body...)
		if err := ss.conn.Send(a.scratch); err != nil {
			ss.win.Take(seq)
			continue
		}
		if r.mo {
			a.srv.stats.mosSent.Add(1)
		} else {
			a.srv.stats.dlrsSent.Add(1)
		}
		return true
	}
	return false
}

// pendingLen returns how many reports wait for a session.
func (a *account) pendingLen() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending.len()
}

// ring is a FIFO of reports that can also take one back at the front.
// Its zero value is empty.
type ring struct {
	buf  []*report
	head int
	n    int
}

func (q *ring) len() int { return q.n }

func (q *ring) grow() {
	nb := make([]*report, max(16, 2*len(q.buf)))
	for i := range q.n {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = nb, 0
}

func (q *ring) pushBack(r *report) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
}

func (q *ring) pushFront(r *report) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = r
	q.n++
}

func (q *ring) front() *report { return q.buf[q.head] }

func (q *ring) popFront() *report {
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return r
}

// swapFront exchanges the front with the ith report.
func (q *ring) swapFront(i int) {
	j := (q.head + i) % len(q.buf)
	q.buf[q.head], q.buf[j] = q.buf[j], q.buf[q.head]
}

// bucket is a token bucket of rate tokens per second holding at most one
// second's worth; a zero rate allows everything. Guarded by account.mu.
type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func (b *bucket) init(rate float64) {
	b.rate = rate
	b.tokens = max(rate, 1)
}

// allow takes one token if there is one.
func (b *bucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	if !b.last.IsZero() {
		b.tokens = min(max(b.rate, 1), b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// allowSubmit applies Config.Rate to one submit_sm.
func (a *account) allowSubmit(now time.Time) bool {
	if a.bucket.rate <= 0 {
		return true
	}
	a.mu.Lock()
	ok := a.bucket.allow(now)
	a.mu.Unlock()
	return ok
}
