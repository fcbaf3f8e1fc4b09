package external

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/host"
)

// Batching: every Submit puts a call on one queue; inflight workers each
// take what has accumulated (up to maxBatch) and make one SubmitBatch RPC
// with it. While the workers wait for the plugin, the next calls pile up,
// so batches grow with load and a lone message is sent at once
// (nats-server's writeLoop drains what is queued the same way).
//
// One batch in flight was measured fastest on 2 cores with 16 sessions
// (≈13 messages a batch; two in flight halve the batches and lose ≈20%):
// a round trip costs the same for 1 message or 16, so the bigger batch
// wins. A hung plugin holds the queue only until the batch's deadline
// (the earliest of its messages'); each Submit gives up at its own, and
// wedgedAfter failed batches in a row restart the plugin.
const (
	inflight = 1    // SubmitBatch calls in flight at once
	maxBatch = 256  // messages per SubmitBatch
	queueLen = 4096 // calls waiting for a worker; Submit waits, up to its deadline, when full
)

// call is one Submit waiting for its verdict. It owns copies of the
// message's bytes, since a worker may still read them after Submit gave
// up. Submit owns it until it is queued, then the worker until it signals
// done; a Submit that timed out abandons it to the garbage collector.
type call struct {
	msg      sdk.Message
	buf      []byte    // backing store of msg's bytes
	tlvs     []sdk.TLV // backing store of msg.TLVs
	deadline time.Time
	timer    *time.Timer   // Submit's own timeout; reused with the call
	done     chan struct{} // cap 1; the worker sends once
	res      host.Result   // set by the worker before done
	err      error         // set by the worker before done: the batch failed
}

var calls = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{timer: t, done: make(chan struct{}, 1)}
}}

func getCall() *call { return calls.Get().(*call) }

func putCall(c *call) {
	c.res, c.err = host.Result{}, nil
	calls.Put(c)
}

// fill copies the fields of m a rule sees into c.msg.
func (c *call) fill(m *module.Message) {
	sm := &m.SM
	b := append(c.buf[:0], sm.ShortMessage...)
	b = append(b, sm.TLVs...)
	c.buf = b
	c.tlvs = c.tlvs[:0]
	for tag, v := range pdu.TLVs(b[len(sm.ShortMessage):]).All() {
		c.tlvs = append(c.tlvs, sdk.TLV{Tag: uint16(tag), Value: v})
	}
	c.msg = sdkMessage(m, b[:len(sm.ShortMessage):len(sm.ShortMessage)], c.tlvs)
}

// sdkMessage is the sdk.Message of m with the given short_message and
// TLVs (the caller decides whether they are copies or m's own bytes).
func sdkMessage(m *module.Message, short []byte, tlvs []sdk.TLV) sdk.Message {
	sm := &m.SM
	return sdk.Message{
		Client:             m.Client,
		SourceTON:          sm.SourceTON,
		SourceNPI:          sm.SourceNPI,
		SourceAddr:         string(sm.SourceAddr),
		DestTON:            sm.DestTON,
		DestNPI:            sm.DestNPI,
		DestAddr:           string(sm.DestAddr),
		ESMClass:           sm.ESMClass,
		PriorityFlag:       sm.PriorityFlag,
		DataCoding:         sm.DataCoding,
		RegisteredDelivery: sm.RegisteredDelivery,
		ShortMessage:       short,
		TLVs:               tlvs,
	}
}

// work is one worker: it takes whatever has been queued and sends it as
// one batch, until ctx ends.
func (p *runner) work(ctx context.Context) {
	batch := make([]*call, 0, maxBatch)
	msgs := make([]*sdk.Message, 0, maxBatch)
	out := make([]host.Result, maxBatch)
	for {
		select {
		case c := <-p.queue:
			batch = append(batch[:0], c)
		case <-ctx.Done():
			return
		}
		batch = p.drain(batch)
		if len(batch) < maxBatch {
			// Let Submits that are runnable (sessions just woken by the
			// previous batch) queue theirs before sending: this nearly
			// doubles the mean batch size under load.
			runtime.Gosched()
			batch = p.drain(batch)
		}
		p.send(ctx, batch, msgs, out)
	}
}

// drain adds queued calls to batch without waiting.
func (p *runner) drain(batch []*call) []*call {
	for len(batch) < maxBatch {
		select {
		case c := <-p.queue:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// send makes one SubmitBatch call for the calls still waiting, under the
// earliest of their deadlines, and completes every call of batch.
func (p *runner) send(ctx context.Context, batch []*call, msgs []*sdk.Message, out []host.Result) {
	now := time.Now()
	live := batch[:0]
	var deadline time.Time
	for _, c := range batch {
		if !now.Before(c.deadline) { // its Submit has given up already
			complete(c, context.DeadlineExceeded)
			continue
		}
		if len(live) == 0 || c.deadline.Before(deadline) {
			deadline = c.deadline
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	inst := p.cur.Load()
	if inst == nil {
		for _, c := range live {
			complete(c, errUnavailable)
		}
		return
	}
	msgs = msgs[:0]
	for _, c := range live {
		msgs = append(msgs, &c.msg)
	}
	cctx, cancel := context.WithDeadline(ctx, deadline)
	err := inst.rule.SubmitBatch(cctx, msgs, out)
	cancel()
	p.batches.Add(1)
	inst.note(err)
	if err != nil {
		for _, c := range live {
			complete(c, err)
		}
		select {
		case p.kick <- struct{}{}:
		default:
		}
		return
	}
	for i, c := range live {
		c.res = out[i]
		out[i] = host.Result{}
		c.done <- struct{}{}
	}
}

// complete ends a call with a batch-level error.
func complete(c *call, err error) {
	c.err = err
	c.done <- struct{}{}
}
