package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// Client is one load-driving SMPP transceiver. It binds, submits at Rate
// with registered_delivery=1 keeping at most Window in flight, answers
// every deliver_sm, and reconnects whenever its connection ends, until
// the context given to Run ends. Everything it sees goes to its Ledger.
type Client struct {
	L        *Ledger
	Addr     string
	SystemID string
	Password string
	Rate     float64       // submits per second; 0: none
	Window   int           // submits in flight at most; default 50
	Timeout  time.Duration // a submit unanswered this long counts as timed out; default 15s
	Steady   bool          // its ESME_ROK answers count towards throughput
	Via      string        // the mux instance Addr belongs to, for the ledger; "" with one

	paused atomic.Bool // no new submits
	noAck  atomic.Bool // deliver_sm are neither answered nor counted

	mu  sync.Mutex // guards cur
	cur *conn

	binds atomic.Int64

	refusing atomic.Bool    // deliver_sm are answered with an error status
	refMu    sync.Mutex     // guards refused
	refused  map[string]int // receipt id -> deliver_sm refused
}

// conn is one connection of a Client: an esme.Client (its reader
// answers deliver_sm, enquire_link and unbind, and hands each
// submit_sm_resp to answered), and the Client's Run goroutine writing
// submits.
type conn struct {
	c      *Client
	ec     *esme.Client
	dialed time.Time

	mu      sync.Mutex           // guards pending, abandon; held across a submit's write (see submit)
	pending map[uint32]time.Time // seq -> when sent
	abandon bool                 // the client dropped the connection on purpose
	stalled atomic.Bool          // the reader stopped reading (a slow consumer)
}

// Pause stops (true) or resumes (false) new submits.
func (c *Client) Pause(on bool) { c.paused.Store(on) }

// NoAck stops (true) or resumes answering and counting deliver_sm.
func (c *Client) NoAck(on bool) { c.noAck.Store(on) }

// Refuse makes the client answer (true) every deliver_sm with an error
// status, ESME_RSYSERR (0x08) and ESME_RX_T_APPN (0x64) in turn, counting
// them per receipt id, or answer them ESME_ROK again (false).
func (c *Client) Refuse(on bool) { c.refusing.Store(on) }

// refusal returns the status to answer a deliver_sm for receipt id with,
// and counts a refusal.
func (c *Client) refusal(id string) pdu.Status {
	if !c.refusing.Load() {
		return pdu.StatusOK
	}
	c.refMu.Lock()
	defer c.refMu.Unlock()
	if c.refused == nil {
		c.refused = map[string]int{}
	}
	c.refused[id]++
	if c.refused[id]%2 == 1 {
		return pdu.StatusSysErr
	}
	return pdu.StatusTempAppErr
}

// Refusals returns how many receipt ids the client refused, how many
// deliver_sm it refused in all, and the most for one id.
func (c *Client) Refusals() (ids, total, most int) {
	c.refMu.Lock()
	defer c.refMu.Unlock()
	for _, n := range c.refused {
		total += n
		most = max(most, n)
	}
	return len(c.refused), total, most
}

// Binds returns how many times the client has bound.
func (c *Client) Binds() int { return int(c.binds.Load()) }

// InFlight returns the submits in flight on the current connection.
func (c *Client) InFlight() int {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return 0
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return len(cn.pending)
}

// Connected reports whether the client is bound now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

// StallReads makes the current connection stop reading from the socket
// and stop submitting, as a client that hangs does; only Drop (or the end
// of Run) ends that. Its submits in flight count as abandoned.
func (c *Client) StallReads() {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn != nil {
		cn.mu.Lock()
		cn.abandon = true // a hung client neither submits nor waits for answers
		cn.mu.Unlock()
		cn.stalled.Store(true)
		cn.ec.StallReads()
	}
}

// Drop closes the current connection at once, without unbind; its
// submits in flight count as abandoned. Run reconnects.
func (c *Client) Drop() {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn != nil {
		cn.mu.Lock()
		cn.abandon = true
		cn.mu.Unlock()
		_ = cn.ec.Drop()
	}
}

// Run drives the client until ctx ends, then closes its connection
// (submits still in flight then count as abandoned).
func (c *Client) Run(ctx context.Context) {
	if c.Window <= 0 {
		c.Window = 50
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		cn, err := c.dial(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		c.binds.Add(1)
		c.mu.Lock()
		c.cur = cn
		c.mu.Unlock()
		cn.run(ctx)
		c.mu.Lock()
		c.cur = nil
		c.mu.Unlock()
	}
}

func (c *Client) dial(ctx context.Context) (*conn, error) {
	ec, err := esme.DialContext(ctx, c.Addr, c.SystemID, c.Password, esme.Options{
		Buffer: -1, Ack: c.deliver, Acked: c.acked,
	})
	if err != nil {
		return nil, err
	}
	return &conn{c: c, ec: ec, dialed: time.Now(), pending: map[uint32]time.Time{}}, nil
}

// deliver is the status a deliver_sm is answered with: none while NoAck,
// an error while Refuse.
func (c *Client) deliver(f []byte) pdu.Status {
	if c.noAck.Load() {
		return esme.NoAnswer
	}
	id, _ := pdu.PeekReceiptedMessageID(f)
	return c.refusal(string(id))
}

// acked counts a receipt once its ESME_ROK answer has been written.
func (c *Client) acked(f []byte, st pdu.Status) {
	if st != pdu.StatusOK {
		return
	}
	if id, _ := pdu.PeekReceiptedMessageID(f); len(id) > 0 {
		c.L.receipt(c.SystemID, string(id))
	}
}

// sm is what every submit carries.
var sm = &pdu.SM{
	SourceAddr: []byte("faults"), DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
	RegisteredDelivery: 1, ShortMessage: []byte("fault suite"),
}

// run writes submits until the connection ends or ctx does.
func (cn *conn) run(ctx context.Context) {
	c := cn.c
	var tick <-chan time.Time
	if c.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / c.Rate))
		defer t.Stop()
		tick = t.C
	}
	check := time.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			cn.mu.Lock()
			cn.abandon = true
			cn.mu.Unlock()
			_ = cn.ec.Drop()
			cn.ended()
			return
		case <-cn.ec.Done():
			cn.ended()
			return
		case <-check.C:
			cn.expire()
		case <-tick:
			if c.paused.Load() {
				continue
			}
			if err := cn.submit(); err != nil {
				_ = cn.ec.Drop()
			}
		}
	}
}

// submit sends one submit_sm if the window and the session allow it.
// cn.mu is held across the write so that the answer, which the reader
// hands to answered, finds the submit pending.
func (cn *conn) submit() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.abandon || cn.ec.Unbound() || len(cn.pending) >= cn.c.Window {
		return nil
	}
	sent := time.Now()
	seq, err := cn.ec.Go(pdu.CmdSubmitSM, sm, cn.answered)
	if err != nil {
		return err
	}
	cn.pending[seq] = sent
	cn.c.L.submitted()
	return nil
}

// answered accounts for the answer to a submit (submit_sm_resp or
// generic_nack); resp is nil when the connection ended first, which
// ended accounts for.
func (cn *conn) answered(resp []byte) {
	if resp == nil {
		return
	}
	h, _ := pdu.DecodeHeader(resp)
	cn.mu.Lock()
	sent, ok := cn.pending[h.Seq]
	delete(cn.pending, h.Seq)
	cn.mu.Unlock()
	if !ok {
		return // timed out already
	}
	id := ""
	if h.ID == pdu.CmdSubmitSMResp && h.Status == pdu.StatusOK {
		if _, body, err := pdu.DecodeFrame(resp); err == nil {
			if r, ok := body.(*pdu.SMResp); ok {
				id = string(r.MessageID)
			}
		}
	}
	c := cn.c
	c.L.answer(c.SystemID, c.Via, c.Steady, h.Status, id, true, time.Since(sent))
}

// expire counts submits unanswered past the client's timeout.
func (cn *conn) expire() {
	if cn.stalled.Load() {
		return // a hung client has no timeout of its own
	}
	cutoff := time.Now().Add(-cn.c.Timeout)
	n := 0
	cn.mu.Lock()
	for seq, at := range cn.pending {
		if at.Before(cutoff) {
			delete(cn.pending, seq)
			n++
		}
	}
	cn.mu.Unlock()
	if n > 0 {
		cn.c.L.timedOutN(n)
	}
}

// ended accounts for what was in flight when the connection ended.
func (cn *conn) ended() {
	cn.mu.Lock()
	n, abandon := len(cn.pending), cn.abandon
	cn.pending = map[uint32]time.Time{}
	cn.mu.Unlock()
	cn.c.L.connEnded(cn.dialed, n, abandon)
}

// errNotAll is returned by WaitAnswered when submits stay in flight.
var errNotAll = errors.New("submits still in flight")

// WaitAnswered waits up to d until no client has a submit in flight.
func WaitAnswered(cs []*Client, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		n := 0
		for _, c := range cs {
			n += c.InFlight()
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d after %v", errNotAll, n, d)
		}
		time.Sleep(50 * time.Millisecond) // polling counters of other goroutines
	}
}
