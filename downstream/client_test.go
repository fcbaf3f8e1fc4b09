package downstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// waitBound bounds every wait of a test.
const waitBound = 5 * time.Second

// client is a raw SMPP test client: net.Dial and the pdu codec, nothing
// more, so that tests see exactly what goes over the wire.
type client struct {
	t   testing.TB
	nc  net.Conn
	br  *bufio.Reader
	seq uint32
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	return dialFrom(t, addr, nil)
}

// dialFrom dials from a chosen local address (127.0.0.2 for "another IP").
func dialFrom(t testing.TB, addr string, local net.Addr) *client {
	t.Helper()
	d := net.Dialer{Timeout: waitBound, LocalAddr: local}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) nextSeq() uint32 { c.seq++; return c.seq }

func (c *client) write(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(waitBound))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes one PDU and returns its sequence number.
func (c *client) send(id pdu.CommandID, status pdu.Status, body pdu.Body) uint32 {
	c.t.Helper()
	seq := c.nextSeq()
	c.write(pdu.Append(nil, id, status, seq, body))
	return seq
}

// readFrame reads one PDU, or returns the read error.
func (c *client) readFrame(d time.Duration) ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	return pdu.ReadFrame(c.br, nil, 1<<20)
}

// read reads one PDU and decodes its header.
func (c *client) read() (pdu.Header, []byte) {
	c.t.Helper()
	f, err := c.readFrame(waitBound)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	h, _ := pdu.DecodeHeader(f)
	return h, f
}

// expect reads one PDU and checks its command_id, status and seq.
func (c *client) expect(id pdu.CommandID, st pdu.Status, seq uint32) []byte {
	c.t.Helper()
	h, f := c.read()
	if h.ID != id || h.Status != st || h.Seq != seq {
		c.t.Fatalf("got %v %v seq %d, want %v %v seq %d", h.ID, h.Status, h.Seq, id, st, seq)
	}
	return f
}

// expectClosed checks that the server closes the connection within d,
// without sending anything more.
func (c *client) expectClosed(d time.Duration) {
	c.t.Helper()
	f, err := c.readFrame(d)
	if err == nil {
		h, _ := pdu.DecodeHeader(f)
		c.t.Fatalf("got %v %v seq %d, want the connection closed", h.ID, h.Status, h.Seq)
	}
	if isTimeout(err) {
		c.t.Fatalf("connection still open after %v", d)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf("read: %v, want EOF", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// bindPDU is a bind body with interface_version 0x34.
func bindPDU(systemID, password string) *pdu.Bind {
	return &pdu.Bind{SystemID: []byte(systemID), Password: []byte(password), InterfaceVersion: pdu.InterfaceVersion34}
}

// bind binds and checks the answer's status; it returns the bind_resp body.
func (c *client) bind(id pdu.CommandID, systemID, password string, want pdu.Status) pdu.BindResp {
	c.t.Helper()
	seq := c.send(id, 0, bindPDU(systemID, password))
	f := c.expect(id.Resp(), want, seq)
	var r pdu.BindResp
	if err := r.Decode(f[pdu.HeaderLen:]); err != nil {
		c.t.Fatalf("bind_resp body: %v", err)
	}
	return r
}

// submitBody is a well-formed submit_sm body carrying text.
func submitBody(text string) *pdu.SM {
	return &pdu.SM{SourceAddr: []byte("shop"), DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte(text)}
}

// submit sends a submit_sm and returns its seq.
func (c *client) submit(text string) uint32 {
	c.t.Helper()
	return c.send(pdu.CmdSubmitSM, 0, submitBody(text))
}

// expectSubmitResp reads a submit_sm_resp and returns its message_id.
func (c *client) expectSubmitResp(st pdu.Status, seq uint32) string {
	c.t.Helper()
	f := c.expect(pdu.CmdSubmitSMResp, st, seq)
	var r pdu.SMResp
	if err := r.Decode(f[pdu.HeaderLen:]); err != nil {
		c.t.Fatalf("submit_sm_resp body: %v", err)
	}
	return string(r.MessageID)
}

// ping round-trips an enquire_link: everything the server queued before
// its answer has been read once ping returns.
func (c *client) ping() {
	c.t.Helper()
	seq := c.send(pdu.CmdEnquireLink, 0, nil)
	c.expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, seq)
}
