package upstream

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/pdu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitBound bounds every wait of these tests.
const waitBound = 5 * time.Second

// result is one SubmitDone call, with copies of its frames.
type result struct {
	s         *Session
	ref       uint64
	reqSeq    uint32
	resp      []byte
	err       error
	throttled bool // s.Throttled when SubmitDone ran
}

func (r result) status() pdu.Status {
	if len(r.resp) < pdu.HeaderLen {
		return 0xFFFFFFFF
	}
	h, _ := pdu.DecodeHeader(r.resp)
	return h.Status
}

// recorder is a Waiter that records every call on a buffered channel.
type recorder struct{ ch chan result }

func newRecorder(n int) *recorder { return &recorder{ch: make(chan result, n)} }

func (r *recorder) SubmitDone(s *Session, ref uint64, req, resp []byte, _ time.Time, err error) {
	res := result{s: s, ref: ref, reqSeq: pdu.Seq(req), err: err, throttled: s.Throttled(time.Now())}
	if resp != nil {
		res.resp = append([]byte(nil), resp...)
	}
	select {
	case r.ch <- res:
	default:
		panic("recorder full")
	}
}

// delivery is one Handler.Deliver call.
type delivery struct {
	s   *Session
	gen uint64
	seq uint32
}

// deliverRecorder is a Handler that records deliver_sm without answering.
type deliverRecorder struct{ ch chan delivery }

func (d *deliverRecorder) Deliver(s *Session, gen uint64, frame []byte) {
	d.ch <- delivery{s: s, gen: gen, seq: pdu.Seq(frame)}
}

func newDeliverRecorder() *deliverRecorder { return &deliverRecorder{ch: make(chan delivery, 100)} }

// submitFrame returns a submit_sm for the simulator to accept.
func submitFrame(t *testing.T, text string, dlr bool) []byte {
	t.Helper()
	m := pdu.SM{SourceAddr: []byte("mux"), DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte(text)}
	if dlr {
		m.RegisteredDelivery = pdu.RegisteredDlrAlways
	}
	return pdu.Append(nil, pdu.CmdSubmitSM, pdu.StatusOK, 0, &m)
}

// testPool is a started Pool with a connection counter.
type testPool struct {
	*Pool
	conns *connCounter
	logs  *observer.ObservedLogs
	log   *zap.Logger
}

// newTestPool fills test defaults into cfg (system_id, a zaptest logger
// teed with an observer), starts the pool and closes it in the cleanup.
func newTestPool(t *testing.T, cfg Config, h Handler) *testPool {
	t.Helper()
	if cfg.SystemID == "" {
		cfg.SystemID = "acct"
		cfg.Password = "secret"
	}
	core, logs := observer.New(zapcore.InfoLevel)
	cfg.Logger = zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	if h == nil && cfg.Bind != pdu.CmdBindTransmitter {
		h = newDeliverRecorder()
	}
	p, err := NewPool(cfg, h)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	tp := &testPool{Pool: p, conns: &connCounter{}, logs: logs, log: cfg.Logger}
	tp.conns.wrap(p)
	p.Start(context.Background())
	t.Cleanup(func() { _ = p.Close() })
	return tp
}

// reconfigure runs Reconfigure with newTestPool's defaults filled into
// cfg, and a fresh logger of the same cores, as a reload makes.
func (tp *testPool) reconfigure(ctx context.Context, cfg Config, bindWait time.Duration) error {
	if cfg.SystemID == "" {
		cfg.SystemID = "acct"
		cfg.Password = "secret"
	}
	cfg.Logger = tp.log.With()
	return tp.Reconfigure(ctx, cfg, bindWait)
}

// hostsOf makes plain hosts of addresses.
func hostsOf(addrs ...string) []Host {
	hs := make([]Host, len(addrs))
	for i, a := range addrs {
		hs[i] = Host{Address: a}
	}
	return hs
}

// connCounter counts the pool's connections on the client side: dials,
// open now, and the most ever open at once.
type connCounter struct {
	dials, open, max atomic.Int64
}

func (cc *connCounter) wrap(p *Pool) {
	dial := p.dial
	p.dial = func(ctx context.Context, h Host) (net.Conn, error) {
		cc.dials.Add(1)
		nc, err := dial(ctx, h)
		if err != nil {
			return nil, err
		}
		n := cc.open.Add(1)
		for {
			m := cc.max.Load()
			if n <= m || cc.max.CompareAndSwap(m, n) {
				break
			}
		}
		return &countedConn{Conn: nc, cc: cc}, nil
	}
}

type countedConn struct {
	net.Conn
	cc   *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.cc.open.Add(-1) })
	return c.Conn.Close()
}

// gens returns the connection generation of each session.
func gens(p *Pool) []uint64 {
	var out []uint64
	for _, s := range p.Sessions() {
		out = append(out, s.Gen())
	}
	return out
}

// countLogs returns the observed entries at lvl whose message is msg.
func countLogs(logs *observer.ObservedLogs, lvl zapcore.Level, msg string) int {
	n := 0
	for _, e := range logs.FilterMessage(msg).All() {
		if e.Level == lvl {
			n++
		}
	}
	return n
}
