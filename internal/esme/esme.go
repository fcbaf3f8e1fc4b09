// Package esme is this module's SMPP peer kit for tests: the one place
// that dials an SMPP server as a client (an ESME) and builds bind
// requests (BindRequest).
//
// Client is a bound session for tests that talk SMPP correctly: bind of
// any type, requests with responses matched by sequence number (Request,
// Send, or Go with a callback), deliver_sm received on a channel or
// answered by a function (each at once, or the answers to one read
// together: Options.BatchAcks), enquire_link and unbind answered. It also
// plays the hostile client the fault suite needs: StallReads (stops
// reading), Drop (closes without unbind), WriteRaw. It is deliberately
// plain: one reader goroutine, writes under a mutex.
//
// Conn is an SMPP connection at the frame level for tests that must see
// every frame in order, or read nothing at all (a slow consumer), or
// write anything (half frames, a bind after a bind); its methods fail the
// test.
//
// Users: the tests of mux, admin, downstream, sim and cmd/smpp-mux, and
// the fault suite's load driver and bind injectors (faults.Client,
// BindCrowd, BindBurst). bench takes only BindRequest and keeps its own
// pipelined client: it batches submits through one buffered writer and
// paces them on a schedule (latency from the scheduled time, no
// coordinated omission), with a slot per request and no channel or
// callback per request, which a plain kit does not try to be.
package esme

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// ErrClosed is returned once the connection has ended.
var ErrClosed = errors.New("esme: connection closed")

// Client is one bound SMPP connection.
type Client struct {
	nc net.Conn

	wmu sync.Mutex // guards writes to nc and seq
	seq uint32

	mu      sync.Mutex // guards waiting, err
	waiting map[uint32]func(resp []byte)
	err     error

	unbound   atomic.Bool   // the server sent unbind
	stall     atomic.Bool   // the reader reads nothing more
	closing   chan struct{} // closed by Drop: a stalled reader returns
	closeOnce sync.Once     // guards closing and nc.Close

	// Deliveries receives every deliver_sm (whole frames), unless
	// Options.Buffer is negative. The client answers each with
	// deliver_sm_resp status Options.Ack().
	Deliveries chan []byte
	ack        func(frame []byte) pdu.Status
	acked      func(frame []byte, st pdu.Status) // nil: none
	batchAcks  bool
	done       chan struct{}
}

// Options tune a Client. Ack and Acked are called from the Client's
// reader goroutine, one deliver_sm at a time; they must not block.
type Options struct {
	Bind    pdu.CommandID                 // default bind_transceiver
	Ack     func(frame []byte) pdu.Status // status for each deliver_sm; nil: 0; return 0xFFFFFFFF to not answer
	Buffer  int                           // Deliveries capacity; default 1024; negative: no Deliveries (Ack sees each deliver_sm)
	Timeout time.Duration                 // dial and bind bound; default 5s
	TLS     *tls.Config                   // dial TLS with this config; nil: plain TCP
	// LocalAddr, when set, is the address to dial from.
	LocalAddr net.Addr
	// Acked, when set, is called after a deliver_sm's answer has been
	// written, with the frame and the status answered.
	Acked func(frame []byte, st pdu.Status)
	// BatchAcks holds the answers to deliver_sm until the reader has no
	// whole frame left buffered, then writes them in one write, as a
	// client that batches its writes does: the answers to one read's
	// frames go out together, and a request (an unbind) may go out
	// between a deliver_sm and its answer. Without it each answer is
	// written as its deliver_sm is read.
	BatchAcks bool
}

// NoAnswer, returned by Options.Ack, leaves a deliver_sm unanswered.
const NoAnswer pdu.Status = 0xFFFFFFFF

// BindRequest is the body of every bind_* this module's tests and tools
// send: system_id, password, interface_version 3.4 (SMPP 3.4 §4.1).
func BindRequest(systemID, password string) *pdu.Bind {
	return &pdu.Bind{SystemID: []byte(systemID), Password: []byte(password), InterfaceVersion: pdu.InterfaceVersion34}
}

// Dial connects to addr and binds; a refused bind is a *pdu.StatusError.
func Dial(addr, systemID, password string, o Options) (*Client, error) {
	return DialContext(context.Background(), addr, systemID, password, o)
}

// DialContext is Dial, also bounded by ctx.
func DialContext(ctx context.Context, addr, systemID, password string, o Options) (*Client, error) {
	if o.Bind == 0 {
		o.Bind = pdu.CmdBindTransceiver
	}
	if o.Buffer == 0 {
		o.Buffer = 1024
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Ack == nil {
		o.Ack = func([]byte) pdu.Status { return pdu.StatusOK }
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	nc, err := dial(ctx, addr, o.LocalAddr, o.TLS)
	if err != nil {
		return nil, err
	}
	c := &Client{nc: nc, waiting: map[uint32]func([]byte){}, ack: o.Ack, acked: o.Acked, batchAcks: o.BatchAcks, done: make(chan struct{}), closing: make(chan struct{})}
	if o.Buffer > 0 {
		c.Deliveries = make(chan []byte, o.Buffer)
	}
	go c.readLoop()
	resp, err := c.Request(ctx, o.Bind, BindRequest(systemID, password))
	if err != nil {
		c.Drop()
		return nil, err
	}
	if h, _ := pdu.DecodeHeader(resp); h.Status != pdu.StatusOK {
		c.Drop()
		return nil, &pdu.StatusError{Status: h.Status, Reason: "bind refused"}
	}
	return c, nil
}

// dial connects from local (if set) over TCP, or TLS with cfg.
func dial(ctx context.Context, addr string, local net.Addr, cfg *tls.Config) (net.Conn, error) {
	nd := &net.Dialer{LocalAddr: local}
	if cfg != nil {
		d := &tls.Dialer{NetDialer: nd, Config: cfg}
		return d.DialContext(ctx, "tcp", addr)
	}
	return nd.DialContext(ctx, "tcp", addr)
}

func (c *Client) readLoop() {
	defer close(c.done)
	defer c.closeConn() // the connection ends with its reader
	br := bufio.NewReader(c.nc)
	var acks pendingAcks
	for {
		if c.stall.Load() {
			<-c.closing // a hung client: nothing more is read
			c.fail(ErrClosed)
			return
		}
		frame, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength)
		if err != nil {
			if c.stall.Load() {
				continue // StallReads cut the read short
			}
			c.fail(err)
			return
		}
		h, _ := pdu.DecodeHeader(frame)
		switch {
		case h.ID == pdu.CmdDeliverSM:
			if c.Deliveries != nil {
				c.Deliveries <- frame
			}
			if st := c.ack(frame); st != NoAnswer {
				acks.add(frame, h.Seq, st)
			}
		case h.ID == pdu.CmdEnquireLink:
			err = c.answer(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, 0, h.Seq))
		case h.ID == pdu.CmdUnbind:
			c.unbound.Store(true)
			err = c.answer(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, 0, h.Seq))
		case h.ID.IsResp():
			c.mu.Lock()
			done := c.waiting[h.Seq]
			delete(c.waiting, h.Seq)
			c.mu.Unlock()
			if done != nil {
				done(frame)
			}
		}
		if err == nil && len(acks.wire) > 0 && (!c.batchAcks || br.Buffered() < pdu.HeaderLen) {
			err = c.flushAcks(&acks)
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// pendingAcks are answers to deliver_sm read but not written yet.
type pendingAcks struct {
	wire   []byte       // the deliver_sm_resp frames
	frames [][]byte     // the deliver_sm they answer
	status []pdu.Status // and their statuses
}

func (a *pendingAcks) add(frame []byte, seq uint32, st pdu.Status) {
	a.wire = pdu.Append(a.wire, pdu.CmdDeliverSMResp, st, seq, &pdu.SMResp{})
	a.frames = append(a.frames, frame)
	a.status = append(a.status, st)
}

// flushAcks writes the pending answers in one write, then tells Acked
// about each.
func (c *Client) flushAcks(a *pendingAcks) error {
	if err := c.answer(a.wire); err != nil {
		return err
	}
	if c.acked != nil {
		for i, f := range a.frames {
			c.acked(f, a.status[i])
		}
	}
	clear(a.frames) // let the frames go
	a.wire, a.frames, a.status = a.wire[:0], a.frames[:0], a.status[:0]
	return nil
}

// answer writes an answer of the reader's; if that fails, the stream
// may hold half a frame, so the connection is closed.
func (c *Client) answer(b []byte) error {
	err := c.write(b)
	if err != nil {
		_ = c.closeConn()
	}
	return err
}

// fail records why the connection ended and tells every request still
// waiting, with a nil response.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	waiting := c.waiting
	c.waiting = map[uint32]func([]byte){}
	c.mu.Unlock()
	for _, done := range waiting {
		done(nil)
	}
}

func (c *Client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// Go writes a request with the next sequence number and returns it. The
// reader goroutine calls done with the response frame, or with nil if
// the connection ends first; done must not block.
func (c *Client) Go(id pdu.CommandID, body pdu.Body, done func(resp []byte)) (uint32, error) {
	c.wmu.Lock()
	c.seq++
	seq := c.seq
	c.wmu.Unlock()
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, fmt.Errorf("%w: %v", ErrClosed, c.err)
	}
	c.waiting[seq] = done
	c.mu.Unlock()
	if err := c.write(pdu.Append(nil, id, 0, seq, body)); err != nil {
		c.mu.Lock()
		delete(c.waiting, seq)
		c.mu.Unlock()
		return 0, err
	}
	return seq, nil
}

// Send writes a request with the next sequence number and returns a
// channel that receives its response frame (closed if the connection ends).
func (c *Client) Send(id pdu.CommandID, body pdu.Body) (uint32, <-chan []byte, error) {
	ch := make(chan []byte, 1)
	seq, err := c.Go(id, body, func(resp []byte) {
		if resp == nil {
			close(ch)
			return
		}
		ch <- resp
	})
	if err != nil {
		return 0, nil, err
	}
	return seq, ch, nil
}

// Request sends a request and waits for its response frame.
func (c *Client) Request(ctx context.Context, id pdu.CommandID, body pdu.Body) ([]byte, error) {
	_, ch, err := c.Send(id, body)
	if err != nil {
		return nil, err
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Submit sends a submit_sm and returns the response's status and
// message_id.
func (c *Client) Submit(ctx context.Context, sm *pdu.SM) (pdu.Status, string, error) {
	f, err := c.Request(ctx, pdu.CmdSubmitSM, sm)
	if err != nil {
		return 0, "", err
	}
	h, body, err := pdu.DecodeFrame(f)
	if err != nil {
		return 0, "", err
	}
	if r, ok := body.(*pdu.SMResp); ok {
		return h.Status, string(r.MessageID), nil
	}
	return h.Status, "", nil
}

// WriteRaw writes octets as they are, for tests of hostile input.
func (c *Client) WriteRaw(b []byte) error { return c.write(b) }

// Unbound reports whether the server has sent unbind (it was answered).
func (c *Client) Unbound() bool { return c.unbound.Load() }

// StallReads makes the reader stop reading from the socket at once (a
// read under way is cut short), as a client that hangs: the server's
// writes back up. Only Drop or Close end that; requests in flight then
// get no response.
func (c *Client) StallReads() {
	c.stall.Store(true)
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Drop closes the connection at once, without unbind, and waits for the
// reader.
func (c *Client) Drop() error {
	err := c.closeConn()
	<-c.done
	return err
}

// closeConn closes the connection once; later calls return nil.
func (c *Client) closeConn() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		err = c.nc.Close()
	})
	return err
}

// Close unbinds (briefly waiting for unbind_resp) and closes.
func (c *Client) Close() error {
	if !c.stall.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = c.Request(ctx, pdu.CmdUnbind, nil)
	}
	return c.Drop()
}
