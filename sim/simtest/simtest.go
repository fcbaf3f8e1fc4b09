package simtest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
)

// ShutdownTimeout bounds how long the cleanup waits for peers to answer
// unbind before it closes their connections.
const ShutdownTimeout = 5 * time.Second

// Server is a sim.Server serving on loopback listeners for one test. The
// embedded *sim.Server gives InjectMO, Submits, Stats, SetThrottle and
// DropSessions.
type Server struct {
	*sim.Server
	addrs []string
	t     testing.TB
	serve sync.WaitGroup // Serve goroutines, waited for in the cleanup
}

// Option scripts the simulator of NewServer.
type Option func(*options)

type options struct {
	hosts int
	cfg   sim.Config
}

// Hosts sets how many listeners (provider hosts, like a.smpp and b.smpp)
// serve the one account space; default 1.
func Hosts(n int) Option { return func(o *options) { o.hosts = n } }

// Account adds credentials; once any are set, only those bind.
func Account(systemID, password string) Option {
	return func(o *options) {
		if o.cfg.Accounts == nil {
			o.cfg.Accounts = make(map[string]string)
		}
		o.cfg.Accounts[systemID] = password
	}
}

// RespLatency delays every submit_sm_resp by d.
func RespLatency(d time.Duration) Option { return func(o *options) { o.cfg.RespLatency = d } }

// DLRDelay delays each final receipt by d after its submit_sm_resp.
func DLRDelay(d time.Duration) Option { return func(o *options) { o.cfg.DLRDelay = d } }

// Enroute sends an ENROUTE receipt before each DELIVRD.
func Enroute() Option { return func(o *options) { o.cfg.SendEnroute = true } }

// Shuffle lets receipts leave in no particular order.
func Shuffle() Option { return func(o *options) { o.cfg.DLRShuffle = true } }

// Rate caps accepted submits per second for each account.
func Rate(perSecond float64) Option { return func(o *options) { o.cfg.Rate = perSecond } }

// ThrottleEvery answers every nth submit_sm with ESME_RTHROTTLED.
func ThrottleEvery(n int) Option { return func(o *options) { o.cfg.ThrottleEvery = n } }

// ErrorEvery answers every nth submit_sm with st.
func ErrorEvery(n int, st pdu.Status) Option {
	return func(o *options) { o.cfg.ErrorEvery, o.cfg.ErrorStatus = n, st }
}

// Window sets how many deliver_sm a session may leave unanswered.
func Window(n int) Option { return func(o *options) { o.cfg.Window = n } }

// Echo answers every submit_sm to number with an MO back to the sender
// (sim.Config.EchoNumber).
func Echo(number string) Option { return func(o *options) { o.cfg.EchoNumber = number } }

// Logger replaces the default zaptest logger.
func Logger(l *zap.Logger) Option { return func(o *options) { o.cfg.Logger = l } }

// Config edits the sim.Config directly, for knobs without an Option.
func Config(fn func(*sim.Config)) Option { return func(o *options) { fn(&o.cfg) } }

// NewServer starts a simulator on 127.0.0.1 ports chosen by the system.
// t.Cleanup shuts it down (unbind, then close after ShutdownTimeout) and
// waits for its goroutines; it fails the test if Serve ended with anything
// but sim.ErrServerClosed.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{hosts: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cfg.Logger == nil {
		o.cfg.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	srv := &Server{Server: sim.New(o.cfg), t: t}
	lns := make([]net.Listener, 0, o.hosts)
	for range max(o.hosts, 1) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			t.Fatalf("simtest: listen: %v", err)
		}
		lns = append(lns, ln)
		srv.addrs = append(srv.addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		srv.serveOn(ln)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx) // a peer that ignores unbind is closed; not a failure
		srv.serve.Wait()
	})
	return srv
}

func (s *Server) serveOn(ln net.Listener) {
	s.serve.Go(func() {
		if err := s.Serve(ln); !errors.Is(err, sim.ErrServerClosed) && !errors.Is(err, sim.ErrHostStopped) {
			s.t.Errorf("simtest: serve: %v", err)
		}
	})
}

// StopHost takes host i down (maintenance): its listener closes and its
// sessions drop, so connections to it are refused until StartHost.
func (s *Server) StopHost(i int) { s.Server.StopHost(s.addrs[i]) }

// StartHost brings host i back on the same address.
func (s *Server) StartHost(i int) {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addrs[i])
	if err != nil {
		s.t.Fatalf("simtest: listen again on %s: %v", s.addrs[i], err)
	}
	s.serveOn(ln)
}

// Addrs returns the address of each host, in the order they were made.
func (s *Server) Addrs() []string { return append([]string(nil), s.addrs...) }

// Addr returns the address of the first host.
func (s *Server) Addr() string { return s.addrs[0] }
