package mux

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// A submit's ref carries the client's own sequence number back to it,
// with whether it wants a receipt and how often it was retried.
func TestRef(t *testing.T) {
	for _, tc := range []struct {
		seq     uint32
		receipt bool
		attempt uint64
	}{{1, false, 0}, {0xffffffff, true, 0}, {7, true, maxAttempts}} {
		ref := makeRef(tc.seq, tc.receipt, tc.attempt)
		if uint32(ref) != tc.seq || (ref&refWantsReceipt != 0) != tc.receipt || ref>>refAttemptShift != tc.attempt {
			t.Errorf("makeRef(%d, %v, %d) = %#x: seq %d, receipt %v, attempt %d", tc.seq, tc.receipt, tc.attempt,
				ref, uint32(ref), ref&refWantsReceipt != 0, ref>>refAttemptShift)
		}
	}
}

// The Router alone, without a Mux or a provider (its upstream pool never
// started): a retry after ESME_RTHROTTLED, which does not wait, is
// refused at once; a submit waits its submit_wait for room, is refused
// with ESME_RTHROTTLED and counted, and leaves the fair share with no
// waiter.
func TestRouterNoRoom(t *testing.T) {
	cfg, err := Parse([]byte(`[server]
listen = "127.0.0.1:0"
submit_wait = "20ms"
[upstream]
system_id = "acct"
password = "pw"
bind = "transmitter"
sessions_per_host = 1
window = 1
[[upstream.host]]
address = "127.0.0.1:1"
[store]
module = "memory"
[[client]]
system_id = "shop"
password = "pw"
`))
	if err != nil {
		t.Fatal(err)
	}
	sh := testShared(nil, cfg)
	rt := newRouter(sh, zap.NewNop(), nil)
	rctx, cancel := module.NewContext(context.Background(), nil)
	defer cancel()
	up, err := newUpPool(cfg, zap.NewNop(), nil, nil, nil, rctx)
	if err != nil {
		t.Fatal(err)
	}
	defer up.pool.Close()
	rt.up.Store(up)
	b := &binding{r: rt, c: sh.live.Load().byID["shop"]}
	frame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 9, &pdu.SM{DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")})
	info, _ := pdu.PeekSubmit(frame)

	if st := rt.route(b, time.Now(), frame, &info, makeRef(9, false, 1), false); st != pdu.StatusThrottled {
		t.Errorf("retry: %v, want ESME_RTHROTTLED", st)
	}
	if n := rt.metrics.noRoom.Load(); n != 0 {
		t.Errorf("a retry counted %d times as no room; it does not wait", n)
	}
	if st := rt.route(b, time.Now(), frame, &info, makeRef(9, false, 0), true); st != pdu.StatusThrottled {
		t.Errorf("submit: %v, want ESME_RTHROTTLED", st)
	}
	if n := rt.metrics.noRoom.Load(); n != 1 {
		t.Errorf("no room counted %d times, want 1", n)
	}
	if n := rt.fair.nwaiting.Load(); n != 0 || b.inflight.Load() != 0 {
		t.Errorf("%d submits still waiting, %d in flight; want none", n, b.inflight.Load())
	}
}
