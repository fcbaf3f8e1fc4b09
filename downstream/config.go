package downstream

import (
	"errors"
	"net"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/link"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// Errors of this package. Handler.Delivered and Handler.Closed get them as
// their err; Session methods return them. Match them with errors.Is.
var (
	// ErrServerClosed is returned by Server.Serve after Shutdown or Close,
	// and is the cause of sessions the server closed.
	ErrServerClosed = errors.New("downstream: server closed")
	// ErrClosed reports a session that has ended.
	ErrClosed = errors.New("downstream: session closed")
	// ErrTimeout reports a deliver_sm not answered within ResponseTimeout.
	ErrTimeout = errors.New("downstream: deliver_sm not answered in time")
	// ErrWindowFull is returned by Deliver when Config.Window deliver_sm
	// are already waiting for their response.
	ErrWindowFull = errors.New("downstream: deliver_sm window full")
	// ErrNotReceiver is returned by Deliver on a session that is not (or
	// not yet) bound as receiver or transceiver.
	ErrNotReceiver = errors.New("downstream: session is not bound to receive")
	// ErrBadFrame is returned by Deliver and Send for a frame whose
	// command_length is not its size.
	ErrBadFrame = errors.New("downstream: malformed frame")
	// ErrSlowConsumer ends a session whose client does not read what is
	// sent to it fast enough.
	ErrSlowConsumer = errors.New("downstream: client does not read fast enough (slow consumer)")
	// ErrDeadPeer ends a session whose client was silent past
	// EnquireLink+ResponseTimeout.
	ErrDeadPeer = errors.New("downstream: client silent past its enquire_link deadline")
	// ErrUnbound ends a session that the client or the server unbound.
	ErrUnbound = errors.New("downstream: session unbound")
	// ErrBindTimeout ends a connection that did not bind within BindTimeout.
	ErrBindTimeout = errors.New("downstream: no bind within the bind timeout")
	// ErrBindRefused ends a connection whose bind was refused.
	ErrBindRefused = errors.New("downstream: bind refused")
	// ErrUnboundEvicted ends a connection that had not bound when
	// MaxUnbound were open and another connection came.
	ErrUnboundEvicted = errors.New("downstream: closed unbound to make room for a new connection (max_unbound)")
	// ErrCommandLength ends a connection that sent a command_length below
	// 16 or over MaxLength; it was answered generic_nack ESME_RINVCMDLEN.
	ErrCommandLength = errors.New("downstream: invalid command_length")
)

// Config sets the limits of a Server. It is also the downstream part of
// the [server] TOML table: the keys in the tags are decoded into it (a
// duration as "10s"; the config loader reads each key on its own), and
// Defaults, the one place of these defaults, fills the zero fields with
// the values noted beside them.
type Config struct {
	BindTimeout     time.Duration `toml:"bind_timeout"`           // default 10s: a connection not bound by then (even mid-PDU) is closed
	MaxConnections  int           `toml:"max_connections"`        // default 10000: over it, a connection is accepted and closed at once
	MaxPerIP        int           `toml:"max_connections_per_ip"` // default 100: connections from one remote IP; over it, closed at once
	MaxUnbound      int           `toml:"max_unbound"`            // default 1000: connections not bound yet; over it, the oldest of them is closed
	MaxUnboundPerIP int           `toml:"max_unbound_per_ip"`     // default MaxUnbound/10 (at least 1, at most MaxUnbound): connections from one remote IP not bound yet; over it, closed at once
	MaxBindChecks   int           `toml:"-"`                      // default GOMAXPROCS/2, at least 1: bind checks (bcrypt) running at once; more wait
	BindFailLimit   int           `toml:"bind_fail_limit"`        // default 5 failed binds from one remote IP within BindLockout lock it out; negative disables
	BindLockout     time.Duration `toml:"bind_lockout"`           // default 1m: how long a locked-out IP gets ESME_RBINDFAIL on every bind
	EnquireLink     time.Duration `toml:"enquire_link"`           // default 30s: enquire_link to a client silent this long
	ResponseTimeout time.Duration `toml:"response_timeout"`       // default 30s: deliver_sm (and unbind, capped at 5s) unanswered by then time out and are delivered again
	Window          int           `toml:"window"`                 // default 10: deliver_sm unacknowledged per session
	MaxLength       uint32        `toml:"-"`                      // default pdu.DefaultMaxLength: largest command_length read
	MaxQueued       int           `toml:"max_queued"`             // default 1 MiB: octets queued for a client before it is closed as a slow consumer
	Logger          *zap.Logger   `toml:"-"`                      // default zap.NewNop()
}

// maxUnbindWait caps how long an unbind waits for its unbind_resp.
const maxUnbindWait = 5 * time.Second

// Defaults fills the zero (or negative, where that means nothing) limits
// with their defaults. NewServer calls it, and so does the config loader,
// so that a loaded config holds the values that run. It leaves Logger
// alone.
func (c *Config) Defaults() {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setDur(&c.BindTimeout, 10*time.Second)
	setDur(&c.BindLockout, time.Minute)
	setDur(&c.EnquireLink, 30*time.Second)
	setDur(&c.ResponseTimeout, 30*time.Second)
	if c.MaxConnections <= 0 {
		c.MaxConnections = 10000
	}
	if c.MaxPerIP <= 0 {
		c.MaxPerIP = 100
	}
	if c.MaxUnbound <= 0 {
		c.MaxUnbound = 1000
	}
	if c.MaxUnboundPerIP <= 0 {
		c.MaxUnboundPerIP = max(1, c.MaxUnbound/10)
	}
	c.MaxUnboundPerIP = min(c.MaxUnboundPerIP, c.MaxUnbound)
	if c.MaxBindChecks <= 0 {
		c.MaxBindChecks = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.BindFailLimit == 0 {
		c.BindFailLimit = 5
	}
	if c.Window <= 0 {
		c.Window = 10
	}
	if c.MaxLength == 0 {
		c.MaxLength = pdu.DefaultMaxLength
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = link.DefaultMaxQueued
	}
}

// defaults is Defaults and a no-op Logger when none is set.
func (c *Config) defaults() {
	c.Defaults()
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// unbindWait is how long Unbind waits for the client's unbind_resp.
func (c *Config) unbindWait() time.Duration { return min(c.ResponseTimeout, maxUnbindWait) }

// tick is how often a session expires its window and checks its unbind:
// a quarter of the shortest deadline it keeps, between 10ms and 1s.
func (c *Config) tick() time.Duration {
	d := min(c.ResponseTimeout, c.EnquireLink, c.unbindWait()) / 4
	return max(10*time.Millisecond, min(d, time.Second))
}

// BindRequest is a client's bind as the Binder sees it. Password is the
// secret in clear: never log it.
type BindRequest struct {
	Type       BindType
	SystemID   string
	Password   string
	SystemType string
	Remote     net.Addr
}

// Binder authenticates binds. The Server calls Bind for each bind_* PDU
// of a connection that is not yet bound and whose remote IP is not locked
// out, on a goroutine of the bind's own while the connection's read
// goroutine waits for it (so that the read goroutine, idle for the rest
// of the session, keeps a small stack); Bind must not block for long.
// To accept, it returns StatusOK and the Handler for the session's traffic;
// any other status (ESME_RINVPASWD, ESME_RINVSYSID, ESME_RBINDFAIL,
// ESME_RALYBND for too many binds, ...) is sent to the client in
// bind_*_resp, the connection is closed and the failure counts towards the
// remote IP's lockout. StatusOK with a nil Handler is treated as
// ESME_RBINDFAIL.
//
// Bind runs before the bind_*_resp is queued, so Session.Deliver returns
// ErrNotReceiver until then: a Handler that delivers at once implements
// BoundHandler and starts from Bound.
type Binder interface {
	Bind(s *Session, req BindRequest) (Handler, pdu.Status)
}

// Handler gets a bound session's traffic. Its methods run on the session's
// goroutines and must not block for long.
type Handler interface {
	// Submit is called on the read goroutine for each submit_sm of a
	// transmitter or transceiver session, in order, after its body decoded
	// without error. frame is valid only during the call: copy what is
	// kept. The handler answers later, from any goroutine, with
	// s.Send(submit_sm_resp) carrying the frame's sequence number. A
	// non-nil error closes the session.
	Submit(s *Session, frame []byte) error

	// Delivered reports the outcome of a Session.Deliver: the client's
	// deliver_sm_resp (or generic_nack) status with a nil err, or ErrTimeout
	// or ErrClosed when no response came. It is called exactly once per
	// successful Deliver: from the read goroutine (response), from link's
	// timer (timeout, see Tick in handle.go) or as the session ends
	// (close), so calls for different refs may run concurrently.
	Delivered(s *Session, ref string, status pdu.Status, err error)

	// Closed is called once, on the session goroutine, when a bound session
	// has ended, after its window was drained through Delivered with
	// ErrClosed; err says why (ErrUnbound, ErrDeadPeer, io.EOF, ...).
	Closed(s *Session, err error)
}

// BoundHandler is a Handler that wants to know when its session is ready.
// Bound is called right after the successful bind_*_resp has been
// queued, like Bind on a goroutine of its own while the read goroutine
// waits: from then on Deliver is accepted, and no deliver_sm can overtake
// the bind_*_resp. It must not block for long.
type BoundHandler interface {
	Handler
	Bound(s *Session)
}
