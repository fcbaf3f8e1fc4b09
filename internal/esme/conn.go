package esme

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Wait bounds every wait of a Conn: a dial, a read, a write.
const Wait = 5 * time.Second

// Frame is one PDU a Conn read: its decoded header and the whole frame,
// which the caller owns.
type Frame struct {
	pdu.Header
	Raw []byte
}

// SM decodes the body of a submit_sm or deliver_sm, failing t if it is
// malformed.
func (f Frame) SM(t testing.TB) pdu.SM {
	t.Helper()
	var m pdu.SM
	if err := m.Decode(f.Raw[pdu.HeaderLen:]); err != nil {
		t.Fatalf("decode %v: %v", f.ID, err)
	}
	return m
}

// MessageID returns the message_id of a submit_sm_resp, failing t if its
// body is malformed.
func (f Frame) MessageID(t testing.TB) string {
	t.Helper()
	var r pdu.SMResp
	if err := r.Decode(f.Raw[pdu.HeaderLen:]); err != nil {
		t.Fatalf("decode %v: %v", f.ID, err)
	}
	return string(r.MessageID)
}

// BindResp decodes the body of a bind_*_resp, failing t if it is
// malformed.
func (f Frame) BindResp(t testing.TB) pdu.BindResp {
	t.Helper()
	var r pdu.BindResp
	if err := r.Decode(f.Raw[pdu.HeaderLen:]); err != nil {
		t.Fatalf("decode %v: %v", f.ID, err)
	}
	return r
}

// ConnOptions tune a Conn.
type ConnOptions struct {
	// LocalAddr, when set, is the address to dial from (127.0.0.2 for
	// "another IP").
	LocalAddr net.Addr
	// Background reads ahead in a goroutine, so that deliver_sm and unbind
	// are answered while the test waits for something else. Without it,
	// frames are read only when the test asks for one: a Conn that is not
	// asked reads nothing, as a slow consumer; and a read that times out
	// may have taken part of a frame, so time out only where nothing is
	// expected.
	Background bool
	// AckDeliver answers each deliver_sm ESME_ROK as it is read; the
	// frame is still returned to the test.
	AckDeliver bool
	// AnswerUnbind answers an unbind as it is read (see IgnoreUnbind);
	// the frame is still returned to the test.
	AnswerUnbind bool
}

// Conn is an SMPP connection at the frame level, for tests that must see
// exactly what goes over the wire or write anything at all (hostile
// input, half frames, a bind of any type). Its methods fail the test
// they were dialed with; they are called from that test's goroutine.
type Conn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader // owned by the reader: the test, or the background goroutine

	ackDeliver   bool
	answerUnbind atomic.Bool

	wmu sync.Mutex // guards writes to nc and seq
	seq uint32

	backlog []Frame // read but not yet asked for; owned by the test goroutine

	// With Background only.
	frames chan Frame    // closed when the reader returns
	rerr   error         // why the reader returned; read after frames is closed
	quit   chan struct{} // closed by Close, so the reader never blocks on frames
	done   chan struct{} // closed when the reader has returned

	closeOnce sync.Once
}

// DialConn connects to addr; t.Cleanup closes the connection (and waits
// for its reader).
func DialConn(t testing.TB, addr string, o ConnOptions) *Conn {
	t.Helper()
	d := net.Dialer{Timeout: Wait, LocalAddr: o.LocalAddr}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &Conn{t: t, nc: nc, br: bufio.NewReader(nc), ackDeliver: o.AckDeliver}
	c.answerUnbind.Store(o.AnswerUnbind)
	if o.Background {
		c.frames = make(chan Frame, 1024)
		c.quit = make(chan struct{})
		c.done = make(chan struct{})
		go c.readAhead()
	}
	t.Cleanup(c.Close)
	return c
}

// NetConn returns the connection, for its addresses or to close it
// without a word.
func (c *Conn) NetConn() net.Conn { return c.nc }

// IgnoreUnbind stops (true) or resumes answering unbind as it is read.
func (c *Conn) IgnoreUnbind(on bool) { c.answerUnbind.Store(!on) }

// Close closes the connection and waits for the background reader. It
// may be called more than once.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		if c.quit != nil {
			close(c.quit)
		}
		_ = c.nc.Close()
		if c.done != nil {
			<-c.done
		}
	})
}

// Write writes octets as they are.
func (c *Conn) Write(b []byte) {
	c.t.Helper()
	if err := c.write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *Conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(Wait))
	_, err := c.nc.Write(b)
	return err
}

// NextSeq takes the next sequence number, for a frame built by hand.
func (c *Conn) NextSeq() uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.seq++
	return c.seq
}

// Send writes a request with the next sequence number and returns it.
func (c *Conn) Send(id pdu.CommandID, body pdu.Body) uint32 {
	c.t.Helper()
	seq := c.NextSeq()
	c.Write(pdu.Append(nil, id, pdu.StatusOK, seq, body))
	return seq
}

// Bind sends a bind of type id and fails the test unless the next frame
// is its response with status want; it returns that response.
func (c *Conn) Bind(id pdu.CommandID, systemID, password string, want pdu.Status) Frame {
	c.t.Helper()
	return c.Expect(id.Resp(), want, c.Send(id, BindRequest(systemID, password)))
}

// Submit sends a submit_sm and waits for its response (see Resp).
func (c *Conn) Submit(m *pdu.SM) Frame {
	c.t.Helper()
	return c.Resp(c.Send(pdu.CmdSubmitSM, m))
}

// Ping round-trips an enquire_link: everything the peer sent before its
// answer has been read once Ping returns.
func (c *Conn) Ping() {
	c.t.Helper()
	c.Expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, c.Send(pdu.CmdEnquireLink, nil))
}

// Ack answers a deliver_sm with status st.
func (c *Conn) Ack(f Frame, st pdu.Status) {
	c.t.Helper()
	c.Write(pdu.Append(nil, pdu.CmdDeliverSMResp, st, f.Seq, &pdu.SMResp{}))
}

// ReadFrame returns the next frame (one kept by Next first), or the
// error that ended the connection, or a timeout error (net.Error) if
// nothing came within d.
func (c *Conn) ReadFrame(d time.Duration) (Frame, error) {
	if len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		return f, nil
	}
	return c.receive(d)
}

// receive returns the next frame off the wire, or off the background
// reader's queue, past the backlog.
func (c *Conn) receive(d time.Duration) (Frame, error) {
	d = max(d, time.Millisecond)
	if c.frames == nil {
		_ = c.nc.SetReadDeadline(time.Now().Add(d))
		return c.readOne()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case f, ok := <-c.frames:
		if !ok {
			return Frame{}, c.rerr
		}
		return f, nil
	case <-timer.C:
		return Frame{}, os.ErrDeadlineExceeded
	}
}

// readOne reads a frame off the wire and answers it when told to.
func (c *Conn) readOne() (Frame, error) {
	b, err := pdu.ReadFrame(c.br, nil, pdu.DefaultMaxLength)
	if err != nil {
		return Frame{}, err
	}
	h, _ := pdu.DecodeHeader(b)
	switch {
	case h.ID == pdu.CmdUnbind && c.answerUnbind.Load():
		_ = c.write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, pdu.StatusOK, h.Seq))
	case h.ID == pdu.CmdDeliverSM && c.ackDeliver:
		_ = c.write(pdu.Append(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, h.Seq, &pdu.SMResp{}))
	}
	return Frame{Header: h, Raw: b}, nil
}

// readAhead is the background reader: it queues every frame until the
// connection ends or Close.
func (c *Conn) readAhead() {
	defer close(c.done)
	for {
		f, err := c.readOne()
		if err != nil {
			c.rerr = err
			close(c.frames)
			return
		}
		select {
		case c.frames <- f:
		case <-c.quit:
			c.rerr = net.ErrClosed
			close(c.frames)
			return
		}
	}
}

// Read returns the next frame, failing the test if none comes within Wait.
func (c *Conn) Read() Frame {
	c.t.Helper()
	f, err := c.ReadFrame(Wait)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

// Expect reads the next frame and fails the test unless it has this
// command_id, command_status and sequence number.
func (c *Conn) Expect(id pdu.CommandID, st pdu.Status, seq uint32) Frame {
	c.t.Helper()
	f := c.Read()
	if f.ID != id || f.Status != st || f.Seq != seq {
		c.t.Fatalf("got %v %v seq %d, want %v %v seq %d", f.ID, f.Status, f.Seq, id, st, seq)
	}
	return f
}

// Next returns the next frame that match accepts, keeping the others
// for later reads; it fails the test if none comes within Wait.
func (c *Conn) Next(match func(Frame) bool) Frame {
	c.t.Helper()
	f, ok := c.TryNext(match, Wait)
	if !ok {
		c.t.Fatalf("no matching frame within %v", Wait)
	}
	return f
}

// TryNext is Next that gives up after d and then returns false. It fails
// the test if the connection ends first.
func (c *Conn) TryNext(match func(Frame) bool, d time.Duration) (Frame, bool) {
	c.t.Helper()
	for i, f := range c.backlog {
		if match(f) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return f, true
		}
	}
	var kept []Frame
	defer func() { c.backlog = append(c.backlog, kept...) }()
	deadline := time.Now().Add(d)
	for {
		f, err := c.receive(time.Until(deadline))
		switch {
		case IsTimeout(err):
			return Frame{}, false
		case err != nil:
			c.t.Fatalf("waiting for a frame: %v", err)
		case match(f):
			return f, true
		}
		kept = append(kept, f)
	}
}

// Resp waits for the response to the request with sequence number seq.
func (c *Conn) Resp(seq uint32) Frame {
	c.t.Helper()
	return c.Next(func(f Frame) bool { return f.ID.IsResp() && f.Seq == seq })
}

// Deliver waits for the next deliver_sm.
func (c *Conn) Deliver() Frame {
	c.t.Helper()
	return c.Next(func(f Frame) bool { return f.ID == pdu.CmdDeliverSM })
}

// ExpectClosed fails the test unless the peer closes the connection
// within d without sending anything more.
func (c *Conn) ExpectClosed(d time.Duration) {
	c.t.Helper()
	f, err := c.ReadFrame(d)
	if err == nil {
		c.t.Fatalf("got %v %v seq %d, want the connection closed", f.ID, f.Status, f.Seq)
	}
	if IsTimeout(err) {
		c.t.Fatalf("connection still open after %v", d)
	}
	if !closedByPeer(err) {
		c.t.Fatalf("read: %v, want EOF", err)
	}
}

// WaitClosed waits up to Wait for the peer to close the connection,
// keeping what it sends before that for later reads.
func (c *Conn) WaitClosed() {
	c.t.Helper()
	var kept []Frame
	defer func() { c.backlog = append(c.backlog, kept...) }()
	deadline := time.Now().Add(Wait)
	for {
		f, err := c.receive(time.Until(deadline))
		switch {
		case err == nil:
			kept = append(kept, f)
		case IsTimeout(err):
			c.t.Fatalf("connection still open after %v", Wait)
		default:
			return
		}
	}
}

// IsTimeout reports whether err is a read or write timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedByPeer reports whether a read error means the peer closed the
// connection: end of stream, or a reset.
func closedByPeer(err error) bool {
	var oe *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &oe) && oe.Op == "read"
}
