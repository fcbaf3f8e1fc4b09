// Package esme is a small SMPP client (an ESME) for the end-to-end tests
// of mux, admin and cmd/smpp-mux: bind, submit_sm with responses matched
// by sequence number, deliver_sm received on a channel and acknowledged.
// It is deliberately plain: one reader goroutine, writes under a mutex.
package esme

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
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
	waiting map[uint32]chan []byte
	err     error

	// Deliveries receives every deliver_sm (whole frames). The client
	// answers each with deliver_sm_resp status Ack() unless AutoAck is off.
	Deliveries chan []byte
	ack        func(frame []byte) pdu.Status
	done       chan struct{}
}

// Options tune a Client.
type Options struct {
	Bind    pdu.CommandID                 // default bind_transceiver
	Ack     func(frame []byte) pdu.Status // status for each deliver_sm; nil: 0; return 0xFFFFFFFF to not answer
	Buffer  int                           // Deliveries capacity; default 1024
	Timeout time.Duration                 // dial and bind bound; default 5s
	TLS     *tls.Config                   // dial TLS with this config; nil: plain TCP
}

// NoAnswer, returned by Options.Ack, leaves a deliver_sm unanswered.
const NoAnswer pdu.Status = 0xFFFFFFFF

// Dial connects to addr and binds; a refused bind is a *pdu.StatusError.
func Dial(addr, systemID, password string, o Options) (*Client, error) {
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
	d := &net.Dialer{Timeout: o.Timeout}
	var nc net.Conn
	var err error
	if o.TLS != nil {
		nc, err = tls.DialWithDialer(d, "tcp", addr, o.TLS)
	} else {
		nc, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c := &Client{nc: nc, waiting: map[uint32]chan []byte{}, Deliveries: make(chan []byte, o.Buffer), ack: o.Ack, done: make(chan struct{})}
	go c.readLoop()
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	resp, err := c.Request(ctx, o.Bind, &pdu.Bind{SystemID: []byte(systemID), Password: []byte(password), InterfaceVersion: pdu.InterfaceVersion34})
	if err != nil {
		c.Close()
		return nil, err
	}
	if h, _ := pdu.DecodeHeader(resp); h.Status != pdu.StatusOK {
		c.Close()
		return nil, &pdu.StatusError{Status: h.Status, Reason: "bind refused"}
	}
	return c, nil
}

func (c *Client) readLoop() {
	defer close(c.done)
	br := bufio.NewReader(c.nc)
	for {
		frame, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength)
		if err != nil {
			c.fail(err)
			return
		}
		h, _ := pdu.DecodeHeader(frame)
		switch {
		case h.ID == pdu.CmdDeliverSM:
			c.Deliveries <- frame
			if st := c.ack(frame); st != NoAnswer {
				_ = c.write(pdu.Append(nil, pdu.CmdDeliverSMResp, st, h.Seq, &pdu.SMResp{}))
			}
		case h.ID == pdu.CmdEnquireLink:
			_ = c.write(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, 0, h.Seq))
		case h.ID == pdu.CmdUnbind:
			_ = c.write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, 0, h.Seq))
		case h.ID.IsResp():
			c.mu.Lock()
			ch := c.waiting[h.Seq]
			delete(c.waiting, h.Seq)
			c.mu.Unlock()
			if ch != nil {
				ch <- frame
			}
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for seq, ch := range c.waiting {
		close(ch)
		delete(c.waiting, seq)
	}
}

func (c *Client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// Send writes a request with the next sequence number and returns a
// channel that receives its response frame (closed if the connection ends).
func (c *Client) Send(id pdu.CommandID, body pdu.Body) (uint32, <-chan []byte, error) {
	ch := make(chan []byte, 1)
	c.wmu.Lock()
	c.seq++
	seq := c.seq
	c.wmu.Unlock()
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: %v", ErrClosed, c.err)
	}
	c.waiting[seq] = ch
	c.mu.Unlock()
	if err := c.write(pdu.Append(nil, id, 0, seq, body)); err != nil {
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

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close unbinds (briefly waiting for unbind_resp) and closes.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = c.Request(ctx, pdu.CmdUnbind, nil)
	err := c.nc.Close()
	<-c.done
	return err
}
