package downstream

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// idleBinder accepts every bind with a Handler that does nothing.
type idleBinder struct{}

func (idleBinder) Bind(*Session, BindRequest) (Handler, pdu.Status) {
	return idleHandler{}, pdu.StatusOK
}

type idleHandler struct{}

func (idleHandler) Submit(*Session, []byte) error                 { return nil }
func (idleHandler) Delivered(*Session, string, pdu.Status, error) {}
func (idleHandler) Closed(*Session, error)                        {}
func (idleHandler) Bound(*Session)                                {}

// BenchmarkIdleSession reports what an idle bound session holds on the
// server: its goroutine's stack and the heap, per session, over 500
// sessions whose clients run no goroutine (so every goroutine stack
// counted is the server's; the heap counts the client's end of each
// socket too).
//
// A session goroutine starts with the runtime's adaptive stack size (the
// average in use at the last GC, so 4 KiB in this small process, 2 KiB in
// a mux holding thousands of idle sessions); GODEBUG=adaptivestackstart=0
// starts every goroutine at 2 KiB and shows whether the session grows its
// own: 2.2 KiB per session while a bind's deep work runs aside
// (Session.aside), 4.1 KiB when it ran on the session goroutine.
//
//	GODEBUG=adaptivestackstart=0 go test -run '^$' -bench IdleSession -benchtime 3x ./downstream/
func BenchmarkIdleSession(b *testing.B) {
	const n = 500
	srv := NewServer(Config{MaxPerIP: n + 10}, idleBinder{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()
	var stack, heap float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		for range n {
			conns = append(conns, dialBound(b, ln.Addr().String()))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		stack += float64(after.StackInuse-before.StackInuse) / n
		heap += float64(after.HeapInuse-before.HeapInuse) / n
		for _, c := range conns {
			c.Close()
		}
		for deadline := time.Now().Add(10 * time.Second); len(srv.Sessions()) > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	b.ReportMetric(stack/float64(b.N), "stack-B/session")
	b.ReportMetric(heap/float64(b.N), "heap-B/session")
}

// dialBound connects and binds a transceiver, synchronously, without a
// goroutine of its own.
func dialBound(b *testing.B, addr string) net.Conn {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	req := &pdu.Bind{SystemID: []byte("idle"), Password: []byte("pw"), InterfaceVersion: pdu.InterfaceVersion34}
	if _, err := nc.Write(pdu.Append(nil, pdu.CmdBindTransceiver, 0, 1, req)); err != nil {
		b.Fatal(err)
	}
	f, err := pdu.ReadFrame(nc, nil, pdu.DefaultMaxLength)
	if err != nil {
		b.Fatal(err)
	}
	if h, _ := pdu.DecodeHeader(f); h.ID != pdu.CmdBindTransceiverResp || h.Status != pdu.StatusOK {
		b.Fatalf("bind: %v %v", h.ID, h.Status)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc
}
