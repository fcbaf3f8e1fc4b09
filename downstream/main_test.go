package downstream

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitBound bounds every wait of a test.
const waitBound = 5 * time.Second

// submitBody is a well-formed submit_sm body carrying text.
func submitBody(text string) *pdu.SM {
	return &pdu.SM{SourceAddr: []byte("shop"), DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte(text)}
}

// fakeBinder accepts the accounts it knows: system_id "shop" password
// "secret", "bank" password "vault"; system_id "blocked" is refused
// ESME_RBINDFAIL (not allowed from here).
type fakeBinder struct {
	mu       sync.Mutex // guards handlers
	handlers map[string]*fakeHandler
	// onSubmit, when set, replaces the default answer to a submit_sm.
	onSubmit func(s *Session, frame []byte) error
	// onDelivered, when set, runs before a Delivered event is recorded.
	onDelivered func()
}

var accounts = map[string]string{"shop": "secret", "bank": "vault"}

func newBinder() *fakeBinder { return &fakeBinder{handlers: make(map[string]*fakeHandler)} }

func (b *fakeBinder) Bind(s *Session, req BindRequest) (Handler, pdu.Status) {
	if req.SystemID == "blocked" {
		return nil, pdu.StatusBindFail
	}
	pw, ok := accounts[req.SystemID]
	switch {
	case !ok:
		return nil, pdu.StatusInvSystemID
	case pw != req.Password:
		return nil, pdu.StatusInvPassword
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.handlers[req.SystemID]
	if !ok {
		h = &fakeHandler{b: b, delivered: make(chan delivery, 100), closed: make(chan closedEvent, 100), bound: make(chan *Session, 100)}
		b.handlers[req.SystemID] = h
	}
	return h, pdu.StatusOK
}

// handler returns the handler of a system_id, made at its first bind.
func (b *fakeBinder) handler(t *testing.T, systemID string) *fakeHandler {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.handlers[systemID]
	if !ok {
		t.Fatalf("no bind of %s yet", systemID)
	}
	return h
}

type delivery struct {
	ref    string
	status pdu.Status
	err    error
}

type closedEvent struct {
	s   *Session
	err error
}

var _ BoundHandler = (*fakeHandler)(nil)

// fakeHandler answers each submit_sm at once with message_id
// "<system_id>-<seq>", unless its binder's onSubmit says otherwise, and
// records Delivered and Closed.
type fakeHandler struct {
	b         *fakeBinder
	delivered chan delivery
	closed    chan closedEvent
	bound     chan *Session
}

func (h *fakeHandler) Submit(s *Session, frame []byte) error {
	if h.b.onSubmit != nil {
		return h.b.onSubmit(s, frame)
	}
	var m pdu.SM
	if err := m.Decode(frame[pdu.HeaderLen:]); err != nil {
		return errors.New("handler got a malformed submit_sm")
	}
	if string(m.ShortMessage) == "panic" {
		panic("submit panic")
	}
	id := s.SystemID() + "-" + itoa(pdu.Seq(frame))
	return s.Send(pdu.Append(nil, pdu.CmdSubmitSMResp, pdu.StatusOK, pdu.Seq(frame), &pdu.SMResp{MessageID: []byte(id)}))
}

func (h *fakeHandler) Delivered(s *Session, ref string, st pdu.Status, err error) {
	if h.b.onDelivered != nil {
		h.b.onDelivered()
	}
	h.delivered <- delivery{ref, st, err}
}

func (h *fakeHandler) Closed(s *Session, err error) { h.closed <- closedEvent{s, err} }

// Bound implements BoundHandler.
func (h *fakeHandler) Bound(s *Session) { h.bound <- s }

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// testServer is a Server listening on 127.0.0.1:0.
type testServer struct {
	*Server
	addr   string
	served chan error
}

// startServer starts a server; cleanup closes it and checks that Serve
// returned ErrServerClosed.
func startServer(t *testing.T, cfg Config, b Binder) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts := &testServer{Server: NewServer(cfg, b), addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { ts.served <- ts.Serve(ln) }()
	t.Cleanup(func() {
		_ = ts.Close()
		if err := eventually.Recv(t, ts.served, waitBound, "Serve return"); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

// shutdown runs Shutdown with a bound and returns its result.
func (ts *testServer) shutdown(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return ts.Shutdown(ctx)
}
