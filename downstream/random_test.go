package downstream

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// countingBinder accepts "shop"/"secret" and counts what its handler sees,
// without ever blocking a session.
type countingBinder struct {
	bound, closed, delivered, submits atomic.Int64
	last                              atomic.Pointer[Session]
	mu                                sync.Mutex // guards errs
	errs                              []string
}

func (b *countingBinder) Bind(s *Session, req BindRequest) (Handler, pdu.Status) {
	if req.SystemID != "shop" || req.Password != "secret" {
		return nil, pdu.StatusInvPassword
	}
	return b, pdu.StatusOK
}

func (b *countingBinder) Bound(s *Session) { b.bound.Add(1); b.last.Store(s) }

func (b *countingBinder) Submit(s *Session, frame []byte) error {
	var m pdu.SM
	if err := m.Decode(frame[pdu.HeaderLen:]); err != nil {
		b.fail("handler got a malformed submit_sm: " + err.Error())
	}
	b.submits.Add(1)
	return s.Send(pdu.Append(nil, pdu.CmdSubmitSMResp, 0, pdu.Seq(frame), &pdu.SMResp{MessageID: []byte("m")}))
}

func (b *countingBinder) Delivered(s *Session, ref string, st pdu.Status, err error) {
	b.delivered.Add(1)
}

func (b *countingBinder) Closed(s *Session, err error) { b.closed.Add(1) }

func (b *countingBinder) fail(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, msg)
}

// TestSessionRandomPDUs sends random sequences of valid and invalid PDUs,
// with deliver_sm from the server mixed in, and checks that every request
// is answered (with its own seq, by its response or generic_nack) or the
// session is closed where the contract says so, that nothing panics, that
// Delivered comes exactly once per accepted Deliver and Closed once per
// bind, and (TestMain) that no goroutine is left.
func TestSessionRandomPDUs(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			b := &countingBinder{}
			cfg := Config{MaxLength: 2048, BindFailLimit: -1, Window: 4, ResponseTimeout: 50 * time.Millisecond}
			cfg.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
			ts := startServer(t, cfg, b)
			r := &randomRun{t: t, rng: rand.New(rand.NewPCG(seed, 42)), ts: ts, b: b}
			r.run(1000)
			_ = ts.Close()
			if d, n := b.delivered.Load(), r.deliveries; d != n {
				t.Errorf("Delivered %d times for %d accepted Deliver", d, n)
			}
			if bd, cl := b.bound.Load(), b.closed.Load(); bd != cl || bd == 0 {
				t.Errorf("%d binds, %d Closed", bd, cl)
			}
			for _, e := range b.errs {
				t.Error(e)
			}
			t.Logf("%d binds, %d submits, %d deliveries, %d reconnects", b.bound.Load(), b.submits.Load(), r.deliveries, r.reconnects)
		})
	}
}

type randomRun struct {
	t          *testing.T
	rng        *rand.Rand
	ts         *testServer
	b          *countingBinder
	c          *esme.Conn
	bound      BindType
	deliveries int64
	reconnects int
}

func (r *randomRun) run(rounds int) {
	r.c = esme.DialConn(r.t, r.ts.addr, esme.ConnOptions{})
	for i := range rounds {
		if r.bound.CanReceive() && r.rng.IntN(3) == 0 {
			if s := r.b.last.Load(); s != nil && s.Deliver(deliverFrame("mo"), "ref") == nil {
				r.deliveries++
			}
		}
		frame, badLength := r.randomPDU()
		r.c.Write(frame)
		h, _ := pdu.DecodeHeader(frame)
		r.check(i, h, badLength)
	}
}

// randomPDU returns one frame: mostly well framed, sometimes with a bad
// command_length.
func (r *randomRun) randomPDU() (frame []byte, badLength bool) {
	seq := r.rng.Uint32N(1 << 30)
	id := []pdu.CommandID{
		pdu.CmdBindTransmitter, pdu.CmdBindReceiver, pdu.CmdBindTransceiver, pdu.CmdSubmitSM, pdu.CmdSubmitSM,
		pdu.CmdSubmitSM, pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM, pdu.CmdSubmitMulti, pdu.CmdDataSM,
		pdu.CmdDeliverSM, pdu.CmdOutbind, pdu.CmdAlertNotification, pdu.CmdEnquireLink, pdu.CmdGenericNack,
		pdu.CmdDeliverSMResp, pdu.CmdSubmitSMResp, pdu.CmdBindTransmitterResp, pdu.CmdUnbindResp,
		pdu.CommandID(r.rng.Uint32()),
	}[r.rng.IntN(21)]
	switch n := r.rng.IntN(100); {
	case n < 30 && r.bound == 0:
		id = []pdu.CommandID{pdu.CmdBindTransmitter, pdu.CmdBindReceiver, pdu.CmdBindTransceiver}[r.rng.IntN(3)]
		pw := []string{"secret", "secret", "secret", "guess"}[r.rng.IntN(4)]
		return pdu.Append(nil, id, 0, seq, esme.BindRequest("shop", pw)), false
	case n < 2:
		return pdu.AppendHeaderOnly(nil, pdu.CmdUnbind, 0, seq), false
	case n < 4:
		length := []uint32{0, 15, 2049, 0xFFFFFFFF}[r.rng.IntN(4)]
		return pdu.Header{Length: length, ID: id, Seq: seq}.AppendTo(nil), true
	case n < 8 && id.IsBind():
		return pdu.Append(nil, id, 0, seq, esme.BindRequest("shop", "secret")), false
	case n < 60:
		f := pdu.Append(nil, pdu.CmdSubmitSM, 0, seq, submitBody("hello"))
		if r.rng.IntN(3) == 0 { // corrupt one body octet
			f[pdu.HeaderLen+r.rng.IntN(len(f)-pdu.HeaderLen)] = byte(r.rng.Uint32())
		}
		return f, false
	}
	body := make([]byte, r.rng.IntN(48))
	for i := range body {
		body[i] = byte(r.rng.Uint32())
	}
	frame = append(pdu.AppendHeaderOnly(nil, id, pdu.Status(r.rng.IntN(3)), seq), body...)
	pdu.PatchLen(frame)
	return frame, false
}

// check reads what the server sends for the PDU h and checks it.
func (r *randomRun) check(round int, h pdu.Header, badLength bool) {
	t := r.t
	answered := h.ID == pdu.CmdEnquireLink || !h.ID.IsResp() || !h.ID.Known()
	if badLength {
		r.expectAnswer(h, []pdu.CommandID{pdu.CmdGenericNack}, pdu.StatusInvCmdLen)
		r.reconnect()
		return
	}
	if !answered {
		// Nothing is due: a ping proves nothing else came for h.
		marker := uint32(0x7F000000 + round)
		r.c.Write(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLink, 0, marker))
		r.expectAnswer(pdu.Header{ID: pdu.CmdEnquireLink, Seq: marker}, []pdu.CommandID{pdu.CmdEnquireLinkResp}, 0)
		return
	}
	want := []pdu.CommandID{h.ID.Resp(), pdu.CmdGenericNack}
	if !h.ID.Known() || h.ID == pdu.CmdOutbind || h.ID == pdu.CmdAlertNotification {
		want = []pdu.CommandID{pdu.CmdGenericNack}
	}
	got := r.expectAnswer(h, want, anyStatus)
	switch {
	case h.ID == pdu.CmdUnbind, h.ID.IsBind() && got.Status != pdu.StatusOK && r.bound == 0:
		r.reconnect()
	case h.ID.IsBind() && got.Status == pdu.StatusOK:
		if r.bound != 0 {
			t.Fatalf("round %d: second bind accepted", round)
		}
		r.bound = bindTypeOf(h.ID)
	case h.ID.IsBind() && r.bound != 0 && got.Status != pdu.StatusAlreadyBound:
		t.Fatalf("round %d: second bind got %v", round, got.Status)
	}
}

const anyStatus = pdu.Status(0xFFFFFFFF)

// expectAnswer reads until the answer to h, answering or ignoring
// deliver_sm on the way; anything else is an error.
func (r *randomRun) expectAnswer(h pdu.Header, ids []pdu.CommandID, st pdu.Status) pdu.Header {
	t := r.t
	t.Helper()
	for {
		f, err := r.c.ReadFrame(waitBound)
		if err != nil {
			t.Fatalf("waiting for the answer to %v seq %d (bound %v): %v", h.ID, h.Seq, r.bound, err)
		}
		got := f.Header
		if got.ID == pdu.CmdDeliverSM && r.bound.CanReceive() {
			if r.rng.IntN(4) != 0 {
				r.c.Write(pdu.AppendHeaderOnly(nil, pdu.CmdDeliverSMResp, 0, got.Seq))
			}
			continue
		}
		ok := got.Seq == h.Seq && (st == anyStatus || got.Status == st)
		found := false
		for _, id := range ids {
			found = found || got.ID == id
		}
		if !ok || !found {
			t.Fatalf("answer to %v seq %d: got %v %v seq %d, want one of %v", h.ID, h.Seq, got.ID, got.Status, got.Seq, ids)
		}
		return got
	}
}

// reconnect checks that the server closed the connection and dials again.
func (r *randomRun) reconnect() {
	r.t.Helper()
	for {
		f, err := r.c.ReadFrame(waitBound)
		if err != nil {
			if esme.IsTimeout(err) {
				r.t.Fatalf("connection not closed")
			}
			break
		}
		if f.ID != pdu.CmdDeliverSM {
			r.t.Fatalf("got %v before the close", f.ID)
		}
	}
	r.c.Close()
	r.c = esme.DialConn(r.t, r.ts.addr, esme.ConnOptions{})
	r.bound = 0
	r.b.last.Store(nil)
	r.reconnects++
}
