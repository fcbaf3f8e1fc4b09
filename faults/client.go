package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

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

// conn is one connection of a Client: a reader goroutine, and the
// Client's Run goroutine writing submits.
type conn struct {
	c      *Client
	nc     net.Conn
	dialed time.Time
	done   chan struct{} // closed when the reader has returned

	wmu sync.Mutex // guards writes to nc and seq
	seq uint32

	mu       sync.Mutex           // guards pending, unbound, abandon
	pending  map[uint32]time.Time // seq -> when sent
	unbound  bool                 // the mux sent unbind: no new submits
	abandon  bool                 // the client dropped the connection on purpose
	stallRd  atomic.Bool          // the reader stops reading (a slow consumer)
	closeOne sync.Once
	closed   chan struct{} // closed by close
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
		cn.stallRd.Store(true)
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
		cn.close()
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
	d := net.Dialer{Timeout: 3 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	if err := bind(nc, br, pdu.CmdBindTransceiver, c.SystemID, c.Password); err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	cn := &conn{c: c, nc: nc, dialed: time.Now(), done: make(chan struct{}), closed: make(chan struct{}), pending: map[uint32]time.Time{}, seq: 1}
	go cn.readLoop(br)
	return cn, nil
}

// bind sends a bind and reads its response (a deadline must be set).
func bind(nc net.Conn, br *bufio.Reader, id pdu.CommandID, systemID, password string) error {
	b := pdu.Append(nil, id, 0, 1, &pdu.Bind{SystemID: []byte(systemID), Password: []byte(password), InterfaceVersion: pdu.InterfaceVersion34})
	if _, err := nc.Write(b); err != nil {
		return err
	}
	for {
		f, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength)
		if err != nil {
			return err
		}
		h, _ := pdu.DecodeHeader(f)
		if h.ID == id|0x80000000 || h.ID == pdu.CmdGenericNack {
			if h.Status != pdu.StatusOK {
				return &pdu.StatusError{Status: h.Status, Reason: "bind refused"}
			}
			return nil
		}
	}
}

var sm = pdu.Append(nil, pdu.CmdSubmitSM, 0, 0, &pdu.SM{
	SourceAddr: []byte("faults"), DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
	RegisteredDelivery: 1, ShortMessage: []byte("fault suite"),
})

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
	frame := make([]byte, len(sm))
	for {
		select {
		case <-ctx.Done():
			cn.mu.Lock()
			cn.abandon = true
			cn.mu.Unlock()
			cn.close()
			<-cn.done
			cn.ended()
			return
		case <-cn.done:
			cn.ended()
			return
		case <-check.C:
			cn.expire()
		case <-tick:
			if c.paused.Load() {
				continue
			}
			cn.mu.Lock()
			ok := !cn.unbound && !cn.abandon && len(cn.pending) < c.Window
			cn.mu.Unlock()
			if !ok {
				continue
			}
			copy(frame, sm)
			if err := cn.submit(frame); err != nil {
				cn.close()
			}
		}
	}
}

func (cn *conn) submit(frame []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.seq++
	pdu.PatchSeq(frame, cn.seq)
	cn.mu.Lock()
	cn.pending[cn.seq] = time.Now()
	cn.mu.Unlock()
	cn.c.L.submitted()
	_ = cn.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := cn.nc.Write(frame)
	return err
}

func (cn *conn) write(b []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	_ = cn.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := cn.nc.Write(b)
	return err
}

// expire counts submits unanswered past the client's timeout.
func (cn *conn) expire() {
	if cn.stallRd.Load() {
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

func (cn *conn) close() {
	cn.closeOne.Do(func() {
		_ = cn.nc.Close()
		close(cn.closed)
	})
}

func (cn *conn) readLoop(br *bufio.Reader) {
	defer close(cn.done)
	defer cn.close()
	c := cn.c
	for {
		if cn.stallRd.Load() {
			// A hung client: nothing is read until the connection is dropped.
			<-cn.closed
			return
		}
		f, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength)
		if err != nil {
			return
		}
		h, _ := pdu.DecodeHeader(f)
		switch h.ID {
		case pdu.CmdSubmitSMResp, pdu.CmdGenericNack:
			cn.mu.Lock()
			sent, ok := cn.pending[h.Seq]
			delete(cn.pending, h.Seq)
			cn.mu.Unlock()
			if !ok {
				continue
			}
			id := ""
			if h.ID == pdu.CmdSubmitSMResp && h.Status == pdu.StatusOK {
				if _, body, err := pdu.DecodeFrame(f); err == nil {
					if r, ok := body.(*pdu.SMResp); ok {
						id = string(r.MessageID)
					}
				}
			}
			c.L.answer(c.SystemID, c.Via, c.Steady, h.Status, id, true, time.Since(sent))
		case pdu.CmdDeliverSM:
			if c.noAck.Load() {
				continue
			}
			id, _ := pdu.PeekReceiptedMessageID(f)
			if st := c.refusal(string(id)); st != pdu.StatusOK {
				if err := cn.write(pdu.Append(nil, pdu.CmdDeliverSMResp, st, h.Seq, &pdu.SMResp{})); err != nil {
					return
				}
				continue
			}
			if err := cn.write(pdu.Append(nil, pdu.CmdDeliverSMResp, 0, h.Seq, &pdu.SMResp{})); err != nil {
				return
			}
			if len(id) > 0 {
				c.L.receipt(c.SystemID, string(id))
			}
		case pdu.CmdEnquireLink:
			_ = cn.write(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, 0, h.Seq))
		case pdu.CmdUnbind:
			cn.mu.Lock()
			cn.unbound = true
			cn.mu.Unlock()
			_ = cn.write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, 0, h.Seq))
		}
	}
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
