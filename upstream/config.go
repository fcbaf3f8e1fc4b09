package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Errors of this package. Session methods return them; Waiter.SubmitDone
// gets ErrTimeout and ErrSessionLost. Match them with errors.Is.
var (
	// ErrNotBound is returned by Submit on a session that has no bound
	// connection now, is draining or unbinding, or is bound as a receiver.
	ErrNotBound = errors.New("upstream: session not bound")
	// ErrWindowFull is returned by Submit when Config.Window submit_sm are
	// already waiting for their response on the session.
	ErrWindowFull = errors.New("upstream: submit window full")
	// ErrThrottled is returned by Submit during the ThrottlePause that
	// follows an ESME_RTHROTTLED answer.
	ErrThrottled = errors.New("upstream: session throttled by the provider")
	// ErrClosing is returned by Submit once Pool.Shutdown or Pool.Close
	// has begun, and by a Reconfigure they interrupt.
	ErrClosing = errors.New("upstream: pool closing")
	// ErrBadFrame is returned by Submit for a frame that is not a whole
	// submit_sm, and by Reply for a frame whose command_length is not its
	// size.
	ErrBadFrame = errors.New("upstream: malformed frame")
	// ErrTimeout is given to SubmitDone when no submit_sm_resp came within
	// ResponseTimeout.
	ErrTimeout = errors.New("upstream: no submit_sm_resp in time")
	// ErrSessionLost is given to SubmitDone when the connection ended
	// before the submit_sm_resp came; the message may or may not have been
	// accepted by the provider.
	ErrSessionLost = errors.New("upstream: session lost before the response")
	// ErrStale is returned by Reply for a connection that has since ended
	// or been replaced; nothing was sent.
	ErrStale = errors.New("upstream: connection replaced (stale generation)")
)

// Host is one provider endpoint, as a.smpp.gatewayapi.com:2775.
type Host struct {
	Address string // host:port
	TLS     bool
	// TLSConfig is used when TLS is set. Nil: the system roots,
	// ServerName from Address and MinVersion TLS 1.2. A given config is
	// cloned; an empty ServerName is filled from Address and a zero
	// MinVersion raised to TLS 1.2.
	TLSConfig *tls.Config
}

// Config sets up a Pool. It is also the [upstream] TOML table: the keys
// in the tags are decoded into it (a duration as "30s"); bind and host
// are read by the config loader, which gives Bind (ParseBind) and Hosts.
// Defaults, the one place of these defaults, fills the zero fields with
// the values noted beside them, and Problems lists what is invalid.
type Config struct {
	Hosts      []Host `toml:"-"`
	SystemID   string `toml:"system_id"`
	Password   string `toml:"password"` // never logged
	SystemType string `toml:"system_type"`

	Bind            pdu.CommandID `toml:"-"`                 // pdu.CmdBindTransceiver (default), CmdBindTransmitter or CmdBindReceiver
	SessionsPerHost int           `toml:"sessions_per_host"` // default 2
	Window          int           `toml:"window"`            // default 50 unacknowledged submit_sm per session
	EnquireLink     time.Duration `toml:"enquire_link"`      // default 30s, the provider's advice
	ReconnectDelay  time.Duration `toml:"reconnect_delay"`   // default 30s: the cap of the reconnect back-off
	ResponseTimeout time.Duration `toml:"response_timeout"`  // default 30s: submit_sm, dial, bind and unbind bound
	ThrottlePause   time.Duration `toml:"-"`                 // default 1s: no new submits after ESME_RTHROTTLED
	MaxLength       uint32        `toml:"-"`                 // default pdu.DefaultMaxLength: largest command_length read
	Logger          *zap.Logger   `toml:"-"`                 // default zap.NewNop()
	// Gate, when set, is held by each slot while it connects and is
	// bound: a cap on binds shared with other pools. Nil: none.
	Gate Gate `toml:"-"`
}

// Limits of the bind fields (pdu accepts 65 octets, NUL included).
const (
	maxSystemID   = 64
	maxPassword   = 64
	maxSystemType = 12
)

// bindNames are the bind types by their [upstream] bind names.
var bindNames = map[string]pdu.CommandID{
	"transceiver": pdu.CmdBindTransceiver,
	"transmitter": pdu.CmdBindTransmitter,
	"receiver":    pdu.CmdBindReceiver,
}

// ParseBind returns the bind command named by [upstream] bind:
// transceiver, transmitter or receiver; "" is 0, which Defaults makes
// transceiver.
func ParseBind(name string) (pdu.CommandID, error) {
	if name == "" {
		return 0, nil
	}
	if id, ok := bindNames[name]; ok {
		return id, nil
	}
	return 0, fmt.Errorf("want transceiver, transmitter or receiver; got %q", name)
}

// Defaults fills the zero fields with their defaults. NewPool and
// Reconfigure call it, and so does the config loader, so that a loaded
// config holds the values that run. It leaves Logger alone. Negative
// counts are left for Problems to report.
func (c *Config) Defaults() {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Bind == 0 {
		c.Bind = pdu.CmdBindTransceiver
	}
	if c.SessionsPerHost == 0 {
		c.SessionsPerHost = 2
	}
	if c.Window == 0 {
		c.Window = 50
	}
	setDur(&c.EnquireLink, 30*time.Second)
	setDur(&c.ReconnectDelay, 30*time.Second)
	setDur(&c.ResponseTimeout, 30*time.Second)
	setDur(&c.ThrottlePause, time.Second)
	if c.MaxLength == 0 {
		c.MaxLength = pdu.DefaultMaxLength
	}
}

// defaults is Defaults and a no-op Logger when none is set.
func (c *Config) defaults() {
	c.Defaults()
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// Problem is one invalid setting of a Config. Key is its key in
// [upstream], with array indexes: "system_id", "host[1].address".
type Problem struct {
	Key string
	Msg string
}

func (p Problem) Error() string { return "upstream." + p.Key + ": " + p.Msg }

// Problems lists every setting of c that Defaults cannot fix, in the
// order of the fields.
func (c *Config) Problems() []Problem {
	var out []Problem
	add := func(key, format string, args ...any) {
		out = append(out, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if len(c.Hosts) == 0 {
		add("host", "at least one [[upstream.host]] is needed")
	}
	for i, h := range c.Hosts {
		if _, _, err := net.SplitHostPort(h.Address); err != nil || h.Address == "" {
			add(fmt.Sprintf("host[%d].address", i), "host[%d]: not host:port: %q", i, h.Address)
		}
	}
	switch c.Bind {
	case 0, pdu.CmdBindTransceiver, pdu.CmdBindTransmitter, pdu.CmdBindReceiver:
	default:
		add("bind", "%v is not a bind command (transceiver, transmitter or receiver)", c.Bind)
	}
	switch {
	case c.SystemID == "":
		add("system_id", "missing")
	case len(c.SystemID) > maxSystemID:
		add("system_id", "longer than %d octets", maxSystemID)
	}
	if len(c.Password) > maxPassword {
		add("password", "longer than %d octets", maxPassword)
	}
	if len(c.SystemType) > maxSystemType {
		add("system_type", "longer than %d octets", maxSystemType)
	}
	if c.SessionsPerHost < 0 {
		add("sessions_per_host", "must be positive; got %d", c.SessionsPerHost)
	}
	if c.Window < 0 {
		add("window", "must be positive; got %d", c.Window)
	}
	if c.MaxLength != 0 && c.MaxLength < pdu.HeaderLen+64 {
		add("max_length", "%d is too small", c.MaxLength)
	}
	return out
}

// validate returns the first of Problems.
func (c *Config) validate() error {
	if ps := c.Problems(); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// sameSession reports whether connections made with c and o are alike:
// every field but Hosts, SessionsPerHost, Logger and Gate, which are not
// settings of one connection, is equal. A field added to Config counts.
func (c *Config) sameSession(o *Config) bool {
	a, b := *c, *o
	a.Hosts, b.Hosts = nil, nil
	a.SessionsPerHost, b.SessionsPerHost = 0, 0
	a.Logger, b.Logger = nil, nil
	a.Gate, b.Gate = nil, nil
	return reflect.DeepEqual(a, b)
}

// canSubmit reports whether the bind type carries submit_sm.
func (c *Config) canSubmit() bool { return c.Bind != pdu.CmdBindReceiver }

// tick is how often a session expires its window, ends a throttle pause
// and checks its unbind: a quarter of the shortest of those deadlines,
// between 10ms and 1s.
func (c *Config) tick() time.Duration {
	d := min(c.ResponseTimeout, c.ThrottlePause, c.EnquireLink) / 4
	return max(10*time.Millisecond, min(d, time.Second))
}

// String describes the config without its password.
func (c Config) String() string {
	return fmt.Sprintf("upstream{hosts: %d, system_id: %q, password: REDACTED, bind: %s, sessions_per_host: %d}",
		len(c.Hosts), c.SystemID, bindTypeName(c.Bind), c.SessionsPerHost)
}

// MarshalLogObject implements zapcore.ObjectMarshaler, without the password.
func (c Config) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("system_id", c.SystemID)
	enc.AddString("bind", bindTypeName(c.Bind))
	enc.AddInt("hosts", len(c.Hosts))
	enc.AddInt("sessions_per_host", c.SessionsPerHost)
	enc.AddInt("window", c.Window)
	return nil
}

// same reports whether connections to h and o are alike: the same
// address, and the same TLS settings: the same TLSConfig, or configs equal
// field by field, trusted CAs compared by content (a config with callbacks
// equals only itself).
func (h Host) same(o Host) bool {
	if h.Address != o.Address || h.TLS != o.TLS {
		return false
	}
	if !h.TLS || h.TLSConfig == o.TLSConfig {
		return true
	}
	a, b := h.tlsConfig(), o.tlsConfig() // copies, ours to change
	if !a.RootCAs.Equal(b.RootCAs) {
		return false
	}
	a.RootCAs, b.RootCAs = nil, nil
	return reflect.DeepEqual(a, b)
}

// tlsConfig returns the TLS config of h, with ServerName and MinVersion set.
func (h Host) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if h.TLSConfig != nil {
		cfg = h.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		if name, _, err := net.SplitHostPort(h.Address); err == nil {
			cfg.ServerName = name
		}
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}
