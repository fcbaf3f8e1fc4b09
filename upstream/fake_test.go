package upstream

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// fakeSMSC is a minimal scripted SMSC for what the simulator does not do:
// silence, late responses, generic_nack, unknown commands, unbind from the
// provider. It counts accepts; frames it received are on frames.
type fakeSMSC struct {
	t       *testing.T
	ln      net.Listener
	addr    string
	accepts atomic.Int64
	frames  chan fakeFrame
	// script, when set, sees each frame first; true means handled.
	script func(fc *fakeConn, frame []byte) bool

	mu    sync.Mutex // guards conns
	conns map[*fakeConn]struct{}
	wg    sync.WaitGroup
}

type fakeFrame struct {
	fc *fakeConn
	h  pdu.Header
}

// fakeConn is one connection to the fake.
type fakeConn struct {
	nc net.Conn
	mu sync.Mutex // serializes writes
}

func (fc *fakeConn) send(frame []byte) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	_, _ = fc.nc.Write(frame)
}

// newFake listens on addr ("127.0.0.1:0" for any port) and serves until
// the test ends.
func newFake(t *testing.T, addr string, script func(fc *fakeConn, frame []byte) bool) *fakeSMSC {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := &fakeSMSC{t: t, ln: ln, addr: ln.Addr().String(), frames: make(chan fakeFrame, 1000), script: script, conns: make(map[*fakeConn]struct{})}
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *fakeSMSC) accept() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.accepts.Add(1)
		fc := &fakeConn{nc: nc}
		f.mu.Lock()
		f.conns[fc] = struct{}{}
		f.mu.Unlock()
		f.wg.Go(func() { f.serve(fc) })
	}
}

func (f *fakeSMSC) serve(fc *fakeConn) {
	defer func() {
		_ = fc.nc.Close()
		f.mu.Lock()
		delete(f.conns, fc)
		f.mu.Unlock()
	}()
	var buf []byte
	for {
		frame, err := pdu.ReadFrame(fc.nc, buf, pdu.DefaultMaxLength)
		if err != nil {
			return
		}
		buf = frame[:0]
		h, _ := pdu.DecodeHeader(frame)
		select {
		case f.frames <- fakeFrame{fc: fc, h: h}:
		default:
		}
		if f.script != nil && f.script(fc, frame) {
			continue
		}
		if !f.answer(fc, h) {
			return
		}
	}
}

// answer is the fake's default: binds and submits accepted, enquire_link
// and unbind answered; false closes the connection.
func (f *fakeSMSC) answer(fc *fakeConn, h pdu.Header) bool {
	switch {
	case h.ID.IsBind():
		fc.send(pdu.Append(nil, h.ID.Resp(), pdu.StatusOK, h.Seq, &pdu.BindResp{SystemID: []byte("fake")}))
	case h.ID == pdu.CmdSubmitSM:
		fc.send(pdu.Append(nil, pdu.CmdSubmitSMResp, pdu.StatusOK, h.Seq, &pdu.SMResp{MessageID: []byte("m1")}))
	case h.ID == pdu.CmdEnquireLink:
		fc.send(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, pdu.StatusOK, h.Seq))
	case h.ID == pdu.CmdUnbind:
		fc.send(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, pdu.StatusOK, h.Seq))
		return false
	}
	return true
}

// next returns the next frame the fake received with command id id.
func (f *fakeSMSC) next(id pdu.CommandID) fakeFrame {
	f.t.Helper()
	for {
		fr := eventually.Recv(f.t, f.frames, waitBound, id.String())
		if fr.h.ID == id {
			return fr
		}
	}
}

// close stops accepting, closes every connection and waits.
func (f *fakeSMSC) close() {
	if err := f.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		f.t.Errorf("fake close: %v", err)
	}
	f.mu.Lock()
	for fc := range f.conns {
		_ = fc.nc.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// silentSubmits is a script that takes submit_sm without answering.
func silentSubmits(_ *fakeConn, frame []byte) bool { return pdu.ID(frame) == pdu.CmdSubmitSM }
