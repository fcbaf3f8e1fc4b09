package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// loadSpec is one load run: conns binds, each with window submits in
// flight, closed loop (rate 0) or paced at rate submits per second over
// all binds. Latency is measured per message from its send time (closed
// loop) or from its scheduled time (paced: no coordinated omission).
type loadSpec struct {
	addrs    []string // where to dial; conn i uses addrs[i%len]
	accounts []string // system_id of conn i is accounts[i%len(accounts)]
	password string
	conns    int
	window   int
	rate     float64 // total submits/s; 0: closed loop
	receipts bool    // registered_delivery=1, and collect receipts
	// dlrCap bounds, per bind, submits sent whose receipt has not come
	// back yet, so that a closed loop measures the end-to-end rate.
	dlrCap  int
	warmup  time.Duration
	measure time.Duration
	drain   time.Duration // bound on waiting for responses and receipts after the run

	// onWindow, when set, is called once the binds are up with the
	// measure window, before the first submit.
	onWindow func(t0, t1 time.Time)
}

// LoadResult is what a run measured. Counts cover the measure window
// unless noted.
type LoadResult struct {
	OK, Errors uint64 // submit_sm_resp received in the window: ROK, other status
	Throughput float64
	P50, P99   float64 // milliseconds
	P999, Max  float64
	Hist       *hdrhistogram.Histogram `json:"-"`

	// Receipts, over the whole run (warmup and drain included).
	Submitted    uint64  // submit_sm_resp ROK with a message id
	DLRs         uint64  // receipts received
	DLRRight     uint64  // for a message the same account submitted
	DLRWrong     uint64  // for a message another account submitted
	DLRUnknown   uint64  // for no message id any account saw
	DLRMissing   uint64  // messages submitted whose receipt never came
	DLRDup       uint64  // receipts received more than once
	DLRRate      float64 // receipts received per second in the measure window
	EndToEnd     float64 // messages with both answer and receipt, per second, first send to last receipt
	Unanswered   uint64  // submits never answered before the drain bound
	ConnFailures int
}

// run dials, binds, drives the load and reports. ctx bounds the whole run.
func (sp loadSpec) run(ctx context.Context) (*LoadResult, error) {
	conns := make([]*loadConn, sp.conns)
	var dialErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			lc, err := dialLoad(ctx, sp.addrs[i%len(sp.addrs)], sp.accounts[i%len(sp.accounts)], sp.password, i%len(sp.accounts), sp)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if dialErr == nil {
					dialErr = fmt.Errorf("bind %d: %w", i, err)
				}
				return
			}
			conns[i] = lc
		})
	}
	wg.Wait()
	if dialErr != nil {
		for _, lc := range conns {
			if lc != nil {
				lc.nc.Close()
				<-lc.readDone
			}
		}
		return nil, dialErr
	}

	start := time.Now()
	t0 := start.Add(sp.warmup)
	t1 := t0.Add(sp.measure)
	var perConnRate float64
	if sp.rate > 0 {
		perConnRate = sp.rate / float64(sp.conns)
	}
	for i, lc := range conns {
		lc.t0, lc.t1, lc.start = t0.UnixNano(), t1.UnixNano(), start
		lc.rate = perConnRate
		if perConnRate > 0 { // stagger the binds' schedules
			lc.offset = time.Duration(float64(time.Second) / perConnRate * float64(i) / float64(sp.conns))
		}
	}
	if sp.onWindow != nil {
		sp.onWindow(t0, t1)
	}
	for _, lc := range conns {
		wg.Go(lc.writeLoop)
	}
	select {
	case <-time.After(time.Until(t1)):
	case <-ctx.Done():
	}
	for _, lc := range conns {
		lc.stopSend.Store(true)
		lc.signal()
	}
	wg.Wait() // writers stopped
	// Drain: wait for every answer (and receipt) up to sp.drain.
	deadline := time.Now().Add(sp.drain)
	var unanswered int64
	for {
		var await int64
		unanswered = 0
		for _, lc := range conns {
			unanswered += lc.inflight.Load()
			await += lc.awaitDLR.Load()
		}
		if (unanswered <= 0 && (!sp.receipts || await <= 0)) || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, lc := range conns {
		lc.close()
	}
	r := sp.collect(conns, t0, t1, start)
	r.Unanswered = uint64(max(unanswered, 0))
	return r, nil
}

func (sp loadSpec) collect(conns []*loadConn, t0, t1, start time.Time) *LoadResult {
	r := &LoadResult{Hist: newHist()}
	var lastDLR int64
	owner := map[string]int{}
	for _, lc := range conns {
		r.OK += lc.okN
		r.Errors += lc.errN
		r.Hist.Merge(lc.hist)
		if lc.failed {
			r.ConnFailures++
		}
		for _, id := range lc.ids {
			owner[id] = lc.acct
		}
		r.DLRRate += float64(lc.dlrInWindow)
		lastDLR = max(lastDLR, lc.lastDLR)
	}
	r.Throughput = float64(r.OK) / t1.Sub(t0).Seconds()
	r.DLRRate /= t1.Sub(t0).Seconds()
	r.P50 = ms(r.Hist.ValueAtQuantile(50))
	r.P99 = ms(r.Hist.ValueAtQuantile(99))
	r.P999 = ms(r.Hist.ValueAtQuantile(99.9))
	r.Max = ms(r.Hist.Max())
	if !sp.receipts {
		return r
	}
	r.Submitted = uint64(len(owner))
	seen := make(map[string]struct{}, len(owner))
	for _, lc := range conns {
		for _, id := range lc.dlrs {
			r.DLRs++
			if _, dup := seen[id]; dup {
				r.DLRDup++
				continue
			}
			seen[id] = struct{}{}
			a, ok := owner[id]
			switch {
			case !ok:
				r.DLRUnknown++
			case a == lc.acct:
				r.DLRRight++
			default:
				r.DLRWrong++
			}
		}
	}
	for id := range owner {
		if _, ok := seen[id]; !ok {
			r.DLRMissing++
		}
	}
	if lastDLR > 0 {
		r.EndToEnd = float64(r.DLRRight) / time.Duration(lastDLR-start.UnixNano()).Seconds()
	}
	return r
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// newHist records latencies from 1µs to 60s in ns, 3 significant digits.
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1000, 60e9, 3) }

// loadConn is one bound client connection: a writer goroutine that keeps
// up to window submit_sm in flight, and a reader goroutine that matches
// responses by sequence number and answers deliver_sm. It is not the
// internal/esme peer kit on purpose: it batches submits through one
// buffered writer, paces them on a schedule (latency from the scheduled
// time) and tracks each in a fixed slot, with no channel or callback per
// request, so that the client costs the measurement as little as it can.
type loadConn struct {
	sp   loadSpec
	nc   net.Conn
	acct int

	frame []byte // the submit_sm, seq patched per send; writer-owned

	// Slots: a submit in flight holds a slot; seq = gen*window + slot + 1.
	mu    sync.Mutex // guards free
	free  []int
	gen   []atomic.Uint32 // per slot; written by the writer, read by the reader
	sent  []atomic.Int64  // per slot: send (or scheduled) time, unix ns
	wake  chan struct{}   // cap 1: the reader freed a slot or got a receipt
	start time.Time
	t0    int64
	t1    int64
	rate  float64 // this bind's submits per second; 0: closed loop

	offset   time.Duration
	stopSend atomic.Bool
	inflight atomic.Int64 // submits not yet answered
	awaitDLR atomic.Int64 // submits answered ROK whose receipt has not come

	// Reader-owned until readDone is closed.
	readDone    chan struct{}
	hist        *hdrhistogram.Histogram
	okN, errN   uint64
	ids         []string // message ids answered ROK
	dlrs        []string // receipted message ids
	dlrInWindow uint64
	lastDLR     int64
	failed      bool

	wmu sync.Mutex // serialises whole-frame writes of the reader's acks with Flush
}

var submitBody = pdu.SM{
	DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
	SourceTON: 5, SourceAddr: []byte("Bench"),
	ShortMessage: []byte("benchmark message text, a short MT"),
}

func dialLoad(ctx context.Context, addr, systemID, password string, acct int, sp loadSpec) (*loadConn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := bindConn(nc, systemID, password); err != nil {
		nc.Close()
		return nil, err
	}
	body := submitBody
	if sp.receipts {
		body.RegisteredDelivery = 1
	}
	lc := &loadConn{
		sp: sp, nc: nc, acct: acct,
		frame:    pdu.Append(nil, pdu.CmdSubmitSM, 0, 0, &body),
		gen:      make([]atomic.Uint32, sp.window),
		sent:     make([]atomic.Int64, sp.window),
		wake:     make(chan struct{}, 1),
		readDone: make(chan struct{}),
		hist:     newHist(),
	}
	for i := sp.window - 1; i >= 0; i-- {
		lc.free = append(lc.free, i)
	}
	go lc.readLoop()
	return lc, nil
}

// bindConn binds nc as a transceiver, synchronously.
func bindConn(nc net.Conn, systemID, password string) error {
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(pdu.Append(nil, pdu.CmdBindTransceiver, 0, 1, esme.BindRequest(systemID, password))); err != nil {
		return err
	}
	f, err := pdu.ReadFrame(nc, nil, pdu.DefaultMaxLength)
	if err != nil {
		return err
	}
	if h, _ := pdu.DecodeHeader(f); h.ID != pdu.CmdBindTransceiverResp || h.Status != pdu.StatusOK {
		return fmt.Errorf("bind refused: %v %v", h.ID, h.Status)
	}
	return nil
}

func (lc *loadConn) signal() {
	select {
	case lc.wake <- struct{}{}:
	default:
	}
}

// writeLoop sends submits while slots are free (closed loop) or as they
// fall due (paced), flushing once per batch.
func (lc *loadConn) writeLoop() {
	bw := bufio.NewWriterSize(lockedWriter{lc}, 32<<10)
	W := uint32(lc.sp.window)
	maxGen := uint32(0x7FFF0000) / W
	var slots []int
	var k int64 // paced: messages scheduled so far
	var interval float64
	if lc.rate > 0 {
		interval = float64(time.Second) / lc.rate
	}
	base := lc.start.Add(lc.offset).UnixNano()
	// Paced: a message's latency counts from its scheduled time, so that
	// waiting for window room counts against the system under test; but
	// not from before the writer's own last sleep ended, so that the
	// coarse sleep (at least minSleep, to keep wakeups few) does not.
	var sleptUntil int64
	const minSleep = 500 * time.Microsecond
	for !lc.stopSend.Load() {
		if lc.sp.receipts && lc.sp.dlrCap > 0 && lc.awaitDLR.Load()+lc.inflight.Load() >= int64(lc.sp.dlrCap) {
			<-lc.wake
			continue
		}
		lc.mu.Lock()
		slots = append(slots[:0], lc.free...)
		lc.free = lc.free[:0]
		lc.mu.Unlock()
		if len(slots) == 0 {
			<-lc.wake
			continue
		}
		now := time.Now().UnixNano()
		n := len(slots)
		if interval > 0 {
			due := int64(float64(now-base)/interval) + 1 - k
			if due <= 0 {
				lc.giveBack(slots)
				next := base + int64(float64(k)*interval)
				time.Sleep(max(time.Duration(next-now), minSleep))
				sleptUntil = time.Now().UnixNano()
				continue
			}
			n = int(min(int64(n), due))
		}
		if lc.sp.receipts && lc.sp.dlrCap > 0 {
			n = int(min(int64(n), int64(lc.sp.dlrCap)-lc.awaitDLR.Load()-lc.inflight.Load()))
		}
		for _, s := range slots[:n] {
			g := (lc.gen[s].Load() + 1) % maxGen
			lc.gen[s].Store(g)
			t := now
			if interval > 0 {
				t = max(base+int64(float64(k)*interval), sleptUntil)
				k++
			}
			lc.sent[s].Store(t)
			lc.inflight.Add(1)
			pdu.PatchSeq(lc.frame, g*W+uint32(s)+1)
			_, _ = bw.Write(lc.frame)
		}
		lc.giveBack(slots[n:])
		if err := bw.Flush(); err != nil {
			return
		}
	}
}

func (lc *loadConn) giveBack(slots []int) {
	if len(slots) == 0 {
		return
	}
	lc.mu.Lock()
	lc.free = append(lc.free, slots...)
	lc.mu.Unlock()
}

// lockedWriter writes whole buffers to the connection under wmu, so that
// the reader's deliver_sm_resp never lands inside a submit_sm.
type lockedWriter struct{ lc *loadConn }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.lc.wmu.Lock()
	defer w.lc.wmu.Unlock()
	_ = w.lc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return w.lc.nc.Write(b)
}

func (lc *loadConn) readLoop() {
	defer close(lc.readDone)
	br := bufio.NewReaderSize(lc.nc, 64<<10)
	W := uint32(lc.sp.window)
	var buf, acks []byte
	var freed []int
	for {
		f, err := pdu.ReadFrame(br, buf, pdu.DefaultMaxLength)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				lc.failed = !lc.stopSend.Load() || lc.inflight.Load() > 0
			}
			lc.inflight.Store(0)
			lc.awaitDLR.Store(0)
			lc.signal()
			return
		}
		buf = f[:0]
		h, _ := pdu.DecodeHeader(f)
		now := time.Now().UnixNano()
		switch h.ID {
		case pdu.CmdSubmitSMResp, pdu.CmdGenericNack:
			if h.Seq == 0 {
				continue
			}
			s := int((h.Seq - 1) % W)
			if (h.Seq-1)/W != lc.gen[s].Load() {
				continue // not in flight: ignore
			}
			sent := lc.sent[s].Load()
			lc.inflight.Add(-1)
			freed = append(freed, s)
			if now >= lc.t0 && now < lc.t1 {
				if h.Status == pdu.StatusOK {
					lc.okN++
					_ = lc.hist.RecordValue(now - sent)
				} else {
					lc.errN++
				}
			}
			if h.Status == pdu.StatusOK && lc.sp.receipts && h.ID == pdu.CmdSubmitSMResp {
				var r pdu.SMResp
				if r.Decode(f[pdu.HeaderLen:]) == nil {
					lc.ids = append(lc.ids, string(r.MessageID))
					lc.awaitDLR.Add(1)
				}
			}
		case pdu.CmdDeliverSM:
			id, ok := pdu.PeekReceiptedMessageID(f)
			if !ok || len(id) == 0 {
				text, _, _, _ := pdu.PeekText(f)
				id, _ = pdu.ReceiptID(text)
			}
			lc.dlrs = append(lc.dlrs, string(id))
			lc.awaitDLR.Add(-1)
			lc.lastDLR = now
			if now >= lc.t0 && now < lc.t1 {
				lc.dlrInWindow++
			}
			acks = pdu.Append(acks, pdu.CmdDeliverSMResp, pdu.StatusOK, h.Seq, &pdu.SMResp{})
		case pdu.CmdEnquireLink:
			acks = pdu.AppendHeaderOnly(acks, pdu.CmdEnquireLinkResp, pdu.StatusOK, h.Seq)
		case pdu.CmdUnbind:
			acks = pdu.AppendHeaderOnly(acks, pdu.CmdUnbindResp, pdu.StatusOK, h.Seq)
		}
		if br.Buffered() < pdu.HeaderLen { // end of what arrived together
			if len(acks) > 0 {
				_, _ = lockedWriter{lc}.Write(acks)
				acks = acks[:0]
			}
			if len(freed) > 0 {
				lc.giveBack(freed)
				freed = freed[:0]
			}
			lc.signal()
		}
	}
}

// close unbinds, waits briefly for unbind_resp, and closes.
func (lc *loadConn) close() {
	_, _ = lockedWriter{lc}.Write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbind, 0, 0x7FFFFFFF))
	select {
	case <-lc.readDone:
	case <-time.After(200 * time.Millisecond):
	}
	lc.nc.Close()
	<-lc.readDone
}
