package link

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// collect records the frames a Conn hands over.
type collect struct {
	mu     sync.Mutex
	frames [][]byte
	got    chan struct{}
}

func (h *collect) HandleFrame(_ *Conn, frame []byte) error {
	h.mu.Lock()
	h.frames = append(h.frames, bytes.Clone(frame))
	h.mu.Unlock()
	h.got <- struct{}{}
	return nil
}

// frameOfLen returns a generic_nack-shaped frame of n octets, seq seq, its
// body filled with a pattern.
func frameOfLen(n int, seq uint32) []byte {
	f := pdu.Header{Length: uint32(n), ID: pdu.CmdSubmitSM, Seq: seq}.AppendTo(nil)
	for i := pdu.HeaderLen; i < n; i++ {
		f = append(f, byte(i*7+int(seq)))
	}
	return f
}

// TestFramesSplitAndBatched feeds frames one octet per write, many in one
// write, and one bigger than the pooled read buffer: each arrives whole,
// in order.
func TestFramesSplitAndBatched(t *testing.T) {
	h := &collect{got: make(chan struct{}, 1024)}
	peer, _, _ := serve(t, Config{MaxLength: 64 << 10}, h)
	var want [][]byte
	var batch []byte
	for i := range 200 {
		f := frameOfLen(16+i%90, uint32(i+1))
		want = append(want, f)
		batch = append(batch, f...)
	}
	big := frameOfLen(3*readBufSize+5, 1000)
	want = append(want, big)
	slow := frameOfLen(40, 1001)
	want = append(want, slow)

	if _, err := peer.Write(batch); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Write(big); err != nil {
		t.Fatal(err)
	}
	for i := range slow {
		if _, err := peer.Write(slow[i : i+1]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	for range want {
		select {
		case <-h.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d frames of %d", len(h.frames), len(want))
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range want {
		if !bytes.Equal(h.frames[i], want[i]) {
			t.Fatalf("frame %d: got %d octets, want %d (%x...)", i, len(h.frames[i]), len(want[i]), want[i][:16])
		}
	}
}

// TestTruncatedFrameIsUnexpectedEOF: a peer that closes in the middle of a
// frame ends Serve with io.ErrUnexpectedEOF, not a clean EOF.
func TestTruncatedFrameIsUnexpectedEOF(t *testing.T) {
	h := &collect{got: make(chan struct{}, 1)}
	peer, _, done := serve(t, Config{}, h)
	f := frameOfLen(40, 1)
	if _, err := peer.Write(f[:30]); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	select {
	case err := <-done:
		if err == nil || err.Error() != "unexpected EOF" {
			t.Fatalf("Serve = %v, want unexpected EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// TestIdleHoldsNoBuffersOrFlusher: connections that have exchanged frames
// and gone quiet hold no read buffer and run only Serve's goroutine.
func TestIdleHoldsNoBuffersOrFlusher(t *testing.T) {
	const n = 20
	before, heldBefore := runtime.NumGoroutine(), buffersHeld.Load()
	for range n {
		peer, _, _ := serve(t, Config{Tick: time.Hour}, echo{})
		r := bufio.NewReader(peer)
		if _, err := peer.Write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbind, 0, 9)); err != nil {
			t.Fatal(err)
		}
		if h := readFrame(t, r); h.ID != pdu.CmdUnbindResp {
			t.Fatalf("got %+v", h)
		}
	}
	// One goroutine per connection: Serve's (the test's serve helper
	// runs it). Flushers end once their queue is written. (Connections of
	// earlier tests may still be ending: hence <= below.)
	deadline := time.Now().Add(5 * time.Second)
	for {
		held, extra := buffersHeld.Load()-heldBefore, runtime.NumGoroutine()-before
		if held <= 0 && extra <= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle: %d read buffers held, %d goroutines for %d connections; want 0 and %d", held, extra, n, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type panicTicker struct{ echo }

func (panicTicker) Tick(*Conn, time.Time) { panic("tick boom") }

// TestTickPanicClosesConn: a Ticker that panics ends its connection with a
// PanicError, and the process goes on.
func TestTickPanicClosesConn(t *testing.T) {
	_, _, done := serve(t, Config{Tick: 5 * time.Millisecond}, panicTicker{})
	select {
	case err := <-done:
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "tick boom" {
			t.Fatalf("Serve = %v, want the tick's PanicError", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// TestCloseBeforeServe: Serve of a connection closed before it started
// returns at once with the cause, and a frame queued before Serve is not
// lost when the connection lives.
func TestCloseBeforeServe(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := New(a, Config{})
	cause := errors.New("go away")
	c.Close(cause)
	if err := c.Serve(context.Background(), echo{}); err != cause {
		t.Fatalf("Serve = %v, want %v", err, cause)
	}

	peer, c2 := net.Pipe()
	defer peer.Close()
	conn := New(c2, Config{})
	if err := conn.Send(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLink, 0, 3)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- conn.Serve(context.Background(), echo{}) }()
	_ = peer.SetDeadline(time.Now().Add(5 * time.Second))
	if h := readFrame(t, bufio.NewReader(peer)); h.ID != pdu.CmdEnquireLink || h.Seq != 3 {
		t.Fatalf("got %+v, want the enquire_link queued before Serve", h)
	}
	conn.Close(ErrClosed)
	if err := <-done; err != ErrClosed {
		t.Fatalf("Serve = %v", err)
	}
}

// TestIdleNonSocketHoldsNoBuffer: on a connection that is not a plain
// socket (net.Pipe here, TLS in production), an idle reader waits with
// its own header-sized array, not a pooled buffer, and frames still
// arrive whole however they are split.
func TestIdleNonSocketHoldsNoBuffer(t *testing.T) {
	a, b := net.Pipe()
	h := &collect{got: make(chan struct{}, 16)}
	c := New(a, Config{Tick: time.Hour})
	heldBefore := buffersHeld.Load()
	done := make(chan error, 1)
	go func() { done <- c.Serve(context.Background(), h) }()
	defer func() {
		b.Close()
		c.Close(ErrClosed)
		<-done
	}()
	f1, f2 := frameOfLen(40, 1), frameOfLen(3*readBufSize, 2)
	for _, part := range [][]byte{f1[:5], f1[5:], f2[:10], f2[10:]} {
		if _, err := b.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case <-h.got:
		case <-time.After(5 * time.Second):
			t.Fatal("frame not handed over")
		}
	}
	h.mu.Lock()
	if !bytes.Equal(h.frames[0], f1) || !bytes.Equal(h.frames[1], f2) {
		t.Errorf("frames changed on the way")
	}
	h.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for buffersHeld.Load() > heldBefore {
		if time.Now().After(deadline) {
			t.Fatalf("idle pipe holds %d read buffers", buffersHeld.Load()-heldBefore)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
