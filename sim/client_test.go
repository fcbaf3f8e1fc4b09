package sim_test

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/pdu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait of these tests.
const wait = 5 * time.Second

// frame is one PDU the test client read, copied.
type frame struct {
	pdu.Header
	raw []byte
}

// sm decodes a deliver_sm.
func (f frame) sm(t *testing.T) pdu.SM {
	t.Helper()
	var m pdu.SM
	if err := m.Decode(f.raw[pdu.HeaderLen:]); err != nil {
		t.Fatalf("decode %v: %v", f.ID, err)
	}
	return m
}

// client is a minimal ESME over net and pdu: a reader goroutine queues
// every frame, answers unbind, and answers deliver_sm when autoAck is on.
type client struct {
	t       *testing.T
	nc      net.Conn
	frames  chan frame
	done    chan struct{} // closed when the reader has returned
	quit    chan struct{} // closed by close, so the reader never blocks on frames
	backlog []frame       // read but not yet asked for; owned by the test goroutine

	wmu     sync.Mutex // guards writes to nc and seq
	seq     uint32
	autoAck bool

	ignoreUnbind atomic.Bool // read by the reader goroutine
}

// dial connects a client; t.Cleanup closes it and waits for its reader.
func dial(t *testing.T, addr string, autoAck bool) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &client{t: t, nc: nc, frames: make(chan frame, 1024), done: make(chan struct{}),
		quit: make(chan struct{}), autoAck: autoAck}
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	_ = c.nc.Close()
	<-c.done
}

func (c *client) read() {
	defer close(c.done)
	defer close(c.frames)
	br := bufio.NewReader(c.nc)
	for {
		b, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength)
		if err != nil {
			return
		}
		h, _ := pdu.DecodeHeader(b)
		switch {
		case h.ID == pdu.CmdUnbind && !c.ignoreUnbind.Load():
			c.write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, pdu.StatusOK, h.Seq))
		case h.ID == pdu.CmdDeliverSM && c.autoAck:
			c.write(pdu.Append(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, h.Seq, &pdu.SMResp{}))
		}
		select {
		case c.frames <- frame{Header: h, raw: b}:
		case <-c.quit:
			return
		}
	}
}

func (c *client) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(wait))
	_, _ = c.nc.Write(b)
}

// send writes a request and returns its sequence number.
func (c *client) send(id pdu.CommandID, body pdu.Body) uint32 {
	c.wmu.Lock()
	c.seq++
	seq := c.seq
	c.wmu.Unlock()
	c.write(pdu.Append(nil, id, pdu.StatusOK, seq, body))
	return seq
}

// next returns the next frame that match accepts, keeping the others for
// later calls; it fails the test after wait.
func (c *client) next(match func(frame) bool) frame {
	c.t.Helper()
	for i, f := range c.backlog {
		if match(f) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return f
		}
	}
	timeout := time.After(wait)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting")
			}
			if match(f) {
				return f
			}
			c.backlog = append(c.backlog, f)
		case <-timeout:
			c.t.Fatalf("no matching frame within %v", wait)
		}
	}
}

// resp waits for the response to seq.
func (c *client) resp(seq uint32) frame {
	c.t.Helper()
	return c.next(func(f frame) bool { return f.ID.IsResp() && f.Seq == seq })
}

// deliver waits for the next deliver_sm.
func (c *client) deliver() frame {
	c.t.Helper()
	return c.next(func(f frame) bool { return f.ID == pdu.CmdDeliverSM })
}

// ack answers a deliver_sm.
func (c *client) ack(f frame, st pdu.Status) {
	c.write(pdu.Append(nil, pdu.CmdDeliverSMResp, st, f.Seq, &pdu.SMResp{}))
}

// waitClosed waits for the server to close the connection.
func (c *client) waitClosed() {
	c.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return
			}
			c.backlog = append(c.backlog, f)
		case <-timeout:
			c.t.Fatalf("connection still open after %v", wait)
		}
	}
}

// bind binds and fails the test unless the status is want.
func (c *client) bind(id pdu.CommandID, systemID, password string, want pdu.Status) frame {
	c.t.Helper()
	seq := c.send(id, &pdu.Bind{SystemID: []byte(systemID), Password: []byte(password), InterfaceVersion: 0x34})
	f := c.resp(seq)
	if f.ID != id.Resp() || f.Status != want {
		c.t.Fatalf("%v: got %v status %v, want %v", id, f.ID, f.Status, want)
	}
	return f
}

// submit sends a submit_sm and returns its response.
func (c *client) submit(m *pdu.SM) frame {
	c.t.Helper()
	return c.resp(c.send(pdu.CmdSubmitSM, m))
}

// messageID returns the message_id of a submit_sm_resp.
func messageID(t *testing.T, f frame) string {
	t.Helper()
	var r pdu.SMResp
	if err := r.Decode(f.raw[pdu.HeaderLen:]); err != nil {
		t.Fatalf("submit_sm_resp: %v", err)
	}
	return string(r.MessageID)
}

// textSM is a submit_sm of GSM 7-bit text to an international number.
func textSM(text string, regDlr byte) *pdu.SM {
	return &pdu.SM{
		SourceTON: 5, SourceAddr: []byte("Shop"),
		DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
		RegisteredDelivery: regDlr, ShortMessage: []byte(text),
	}
}

// dialBound dials and binds as a transceiver of "acct" / "pw".
func dialBound(t *testing.T, addr string, id pdu.CommandID, autoAck bool) *client {
	t.Helper()
	c := dial(t, addr, autoAck)
	c.bind(id, "acct", "pw", pdu.StatusOK)
	return c
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
