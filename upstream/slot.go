package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// firstRetry caps the first reconnect delay: the provider restarts one host
// at a time and takes a reconnect almost at once.
const firstRetry = 250 * time.Millisecond

// BindError reports a bind_*_resp (or generic_nack) with a non-zero status.
type BindError struct {
	Status pdu.Status
}

// Error implements error.
func (e *BindError) Error() string { return "bind refused: " + e.Status.String() }

// Credentials reports whether the provider refused the credentials
// (ESME_RINVPASWD, ESME_RINVSYSID, ESME_RBINDFAIL): retrying soon will not
// help, and hammering may get the account banned.
func (e *BindError) Credentials() bool {
	switch e.Status {
	case pdu.StatusInvPassword, pdu.StatusInvSystemID, pdu.StatusBindFail:
		return true
	}
	return false
}

// backoff computes reconnect delays: exponential from firstRetry, capped
// at max, with full jitter. Owned by one slot goroutine.
type backoff struct {
	max     time.Duration
	attempt int
	rand    func(n int64) int64 // [0, n); rand.Int64N by default
}

// next returns the delay before the next attempt and counts it.
func (b *backoff) next() time.Duration {
	ceil := b.max
	if b.attempt < 30 {
		ceil = min(b.max, firstRetry<<b.attempt)
	}
	b.attempt++
	rnd := b.rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	return time.Duration(rnd(int64(ceil)) + 1)
}

// reset starts over from the quick first retry.
func (b *backoff) reset() { b.attempt = 0 }

// run is the slot's goroutine: connect, serve, and reconnect until the pool
// stops or retires the slot. The pool waits for it.
func (s *Session) run() {
	defer close(s.ended)
	defer s.setState(StateClosed)
	bo := backoff{max: s.cfg.ReconnectDelay}
	var last failure // what the previous attempt ended with, for logging once
	for s.stopCtx.Err() == nil {
		lived, err := s.connectGated()
		if s.stopCtx.Err() != nil {
			return
		}
		s.lastErr.Store(&Failure{Err: err, At: time.Now()})
		s.setState(StateDown)
		if lived >= stableAfter(*s.cfg) {
			bo.reset()
			last = failure{} // a new episode: its first failure is logged
		}
		delay := bo.next()
		var be *BindError
		if errors.As(err, &be) && be.Credentials() {
			delay = s.cfg.ReconnectDelay
		}
		last = s.logFailure(last, err, bo.attempt, delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.stopCtx.Done():
			t.Stop()
			return
		}
	}
}

// stableAfter is how long a bind must have lived for the back-off to start
// over: a host that drops us sooner is flapping.
func stableAfter(cfg Config) time.Duration { return max(cfg.ReconnectDelay, cfg.EnquireLink) }

// failure is the kind of the last failed attempt: a change of kind is
// logged, a repeat is sampled.
type failure struct {
	kind   string // "", "credentials", "bind", "dial", "lost"
	status pdu.Status
}

// logFailure logs why an attempt ended: Error once when the provider
// refuses the credentials, Warn on the first failure of a kind and then at
// attempts 2, 4, 8, ... (a sampled log per reconnect), Info for an unbind.
func (s *Session) logFailure(last failure, err error, attempt int, delay time.Duration) failure {
	cur := classify(err)
	var be *BindError
	errors.As(err, &be)
	fields := []zap.Field{zap.Error(err), zap.Duration("retry_in", delay), zap.Int("attempt", attempt)}
	switch {
	case cur.kind == "credentials":
		if cur != last {
			s.log.Error("bind refused: check upstream system_id and password; retrying slowly",
				append(fields, zap.Stringer("command_status", be.Status))...)
		}
	case cur != last || attempt&(attempt-1) == 0:
		s.log.Warn("upstream connection down; reconnecting", fields...)
	}
	return cur
}

// classify returns the kind of the error a connection or an attempt
// ended with.
func classify(err error) failure {
	var be *BindError
	var de *dialError
	switch {
	case errors.As(err, &be):
		if be.Credentials() {
			return failure{kind: "credentials", status: be.Status}
		}
		return failure{kind: "bind", status: be.Status}
	case errors.As(err, &de):
		return failure{kind: "dial"}
	case errors.Is(err, errPeerUnbound), errors.Is(err, errUnbound):
		return failure{}
	}
	return failure{kind: "lost"}
}

// FailureKind names the kind of the error of Session.LastFailure:
// "bind_refused" (the provider answered the bind with an error status;
// errors.As finds a *BindError), "connect_failed" (the dial or the TLS
// handshake failed: connection refused, timeout), "dropped" (the
// connection was lost, or the bind got no answer), "unbound" (an unbind,
// ours or the provider's), or "" for nil.
func FailureKind(err error) string {
	if err == nil {
		return ""
	}
	switch classify(err).kind {
	case "credentials", "bind":
		return "bind_refused"
	case "dial":
		return "connect_failed"
	case "":
		return "unbound"
	}
	return "dropped"
}

// connectGated is connectOnce holding the config's Gate, if any, for
// the connection's life.
func (s *Session) connectGated() (time.Duration, error) {
	g := s.cfg.Gate
	if g == nil {
		return s.connectOnce()
	}
	release, err := g.Acquire(s.stopCtx)
	if err != nil {
		return 0, err
	}
	defer release()
	return s.connectOnce()
}

// connectOnce dials, binds and serves one connection until it ends, and
// returns how long it was bound and why it ended. When it returns, the
// connection is closed and every submit on it has had its SubmitDone.
func (s *Session) connectOnce() (time.Duration, error) {
	p, cfg := s.pool, s.cfg
	s.setState(StateConnecting)
	dctx, cancel := context.WithTimeout(s.stopCtx, cfg.ResponseTimeout)
	nc, err := p.dial(dctx, s.host)
	cancel()
	if err != nil {
		return 0, &dialError{err}
	}
	lc := link.New(nc, link.Config{
		MaxLength:   cfg.MaxLength,
		EnquireLink: cfg.EnquireLink,
		DeadAfter:   cfg.EnquireLink + cfg.ResponseTimeout,
		Tick:        cfg.tick(),
	})
	s.setState(StateBinding)
	if err := s.bind(lc); err != nil {
		_ = nc.Close()
		return 0, err
	}
	c := &conn{link: lc, gen: p.gen.Add(1), win: newWindow(cfg.Window)}
	log := s.log.With(zap.Uint64("gen", c.gen))
	log.Info("bound", zap.String("bind_type", bindTypeName(cfg.Bind)))
	start := time.Now()
	s.publish(c)
	err = lc.Serve(p.runCtx, connLink{s: s, c: c})
	s.end(c)
	lived := time.Since(start)
	if errors.Is(err, errUnbound) || errors.Is(err, errPeerUnbound) {
		log.Info("unbound", zap.NamedError("cause", err), zap.Duration("lived", lived))
	} else if s.stopCtx.Err() != nil {
		log.Info("connection closed", zap.NamedError("cause", err), zap.Duration("lived", lived))
	}
	var pe *link.PanicError
	if errors.As(err, &pe) {
		log.Error("handler panic; connection closed", zap.Any("panic", pe.Value), zap.ByteString("stack", pe.Stack))
	}
	return lived, err
}

// dialError wraps a failed dial or TLS handshake.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dialHost opens a TCP or TLS connection to h, bounded by ctx (handshake
// included), which the slot gives ResponseTimeout.
func (p *Pool) dialHost(ctx context.Context, h Host) (net.Conn, error) {
	d := net.Dialer{KeepAlive: 30 * time.Second}
	if !h.TLS {
		return d.DialContext(ctx, "tcp", h.Address)
	}
	td := tls.Dialer{NetDialer: &d, Config: h.tlsConfig()}
	return td.DialContext(ctx, "tcp", h.Address)
}

// bind sends bind_* on the connection before link serves it, and reads
// frames until the matching bind_*_resp, within ResponseTimeout. Frames
// are read exactly (no read-ahead), so nothing the provider sends right
// after the bind_*_resp is lost. Pool shutdown, or the slot's retirement,
// interrupts it.
func (s *Session) bind(lc *link.Conn) error {
	cfg, nc := s.cfg, lc.NetConn()
	stop := context.AfterFunc(s.stopCtx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = nc.SetDeadline(time.Now().Add(cfg.ResponseTimeout))
	seq := lc.NextSeq()
	req := pdu.Append(make([]byte, 0, 64+len(cfg.SystemID)+len(cfg.Password)), cfg.Bind, pdu.StatusOK, seq, &pdu.Bind{
		SystemID:         []byte(cfg.SystemID),
		Password:         []byte(cfg.Password),
		SystemType:       []byte(cfg.SystemType),
		InterfaceVersion: pdu.InterfaceVersion34,
	})
	if _, err := nc.Write(req); err != nil {
		return fmt.Errorf("bind: write: %w", err)
	}
	var buf []byte
	for {
		frame, err := pdu.ReadFrame(nc, buf, cfg.MaxLength)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && s.stopCtx.Err() == nil {
				err = fmt.Errorf("no bind_resp within %v: %w", cfg.ResponseTimeout, err)
			} else if errors.Is(err, io.EOF) {
				err = fmt.Errorf("closed by the provider: %w", err)
			}
			return fmt.Errorf("bind: %w", err)
		}
		buf = frame[:0]
		h, _ := pdu.DecodeHeader(frame)
		switch {
		case h.ID == pdu.CmdEnquireLink:
			_, _ = nc.Write(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, pdu.StatusOK, h.Seq))
			continue
		case h.Seq != seq || (h.ID != cfg.Bind.Resp() && h.ID != pdu.CmdGenericNack):
			continue // nothing else is expected before bind_resp
		case h.Status != pdu.StatusOK:
			return &BindError{Status: h.Status}
		case h.ID == pdu.CmdGenericNack:
			return &BindError{Status: pdu.StatusUnknownErr}
		}
		return nc.SetDeadline(time.Time{})
	}
}

// bindTypeName is the TOML name of a bind command: transceiver,
// transmitter or receiver.
func bindTypeName(id pdu.CommandID) string {
	switch id {
	case pdu.CmdBindTransmitter:
		return "transmitter"
	case pdu.CmdBindReceiver:
		return "receiver"
	}
	return "transceiver"
}

func newWindow(n int) *link.Window[pending] { return link.NewWindow[pending](n) }
