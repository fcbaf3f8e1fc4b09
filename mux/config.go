package mux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"go.uber.org/zap/zapcore"
	"golang.org/x/crypto/bcrypt"
)

// Config is the whole configuration, as read from TOML by Load. Module
// tables (the store, each client's rules) are decoded into their modules'
// own structs and kept in Store.Module and ClientConfig.Rules.
type Config struct {
	Server   ServerConfig   `toml:"server"`
	Admin    AdminConfig    `toml:"admin"`
	Log      LogConfig      `toml:"log"`
	Store    StoreConfig    `toml:"-"`
	Upstream UpstreamConfig `toml:"upstream"`
	Clients  []ClientConfig `toml:"client"`
}

// ServerConfig is [server]: the downstream SMPP listener clients bind to.
type ServerConfig struct {
	Listen          string   `toml:"listen"`                 // default "127.0.0.1:2775"
	TLSListen       string   `toml:"tls_listen"`             // "" disables downstream TLS
	TLSCert         string   `toml:"tls_cert"`               // PEM certificate chain for tls_listen
	TLSKey          string   `toml:"tls_key"`                // PEM private key for tls_listen
	MODefault       string   `toml:"mo_default"`             // client that gets MOs no mo_numbers entry claims
	BindTimeout     Duration `toml:"bind_timeout"`           // default 10s
	BindFailLimit   int      `toml:"bind_fail_limit"`        // default 5
	BindLockout     Duration `toml:"bind_lockout"`           // default 1m
	MaxConnections  int      `toml:"max_connections"`        // default 10000
	MaxPerIP        int      `toml:"max_connections_per_ip"` // default 100
	MaxUnbound      int      `toml:"max_unbound"`            // default 1000: connections not bound yet
	MaxUnboundPerIP int      `toml:"max_unbound_per_ip"`     // default 10: connections from one address not bound yet
	MaxHeld         int      `toml:"max_held"`               // default 10000: unmatched receipts an instance retries at once
	MaxQueued       int      `toml:"max_queued"`             // default 1048576: octets queued for a client before it is closed as a slow consumer
	EnquireLink     Duration `toml:"enquire_link"`           // default 30s: ping idle clients
	ResponseTimeout Duration `toml:"response_timeout"`       // default 30s: deliver_sm to a client unanswered by then is redelivered
	Window          int      `toml:"window"`                 // default 10: deliver_sm unacknowledged per client session
	SubmitWait      Duration `toml:"submit_wait"`            // default 5s: how long a submit_sm may wait for upstream room
	DLRGrace        Duration `toml:"dlr_grace"`              // default 10s: with upstream.response_timeout, when an unmatched receipt counts as orphaned
}

// AdminConfig is [admin]: the HTTP endpoints.
type AdminConfig struct {
	Listen string `toml:"listen"` // default "127.0.0.1:2019"; "" disables
	// Token, when set, is the bearer token every endpoint but /healthz
	// requires. It is required when Listen is not a loopback address.
	Token string `toml:"token"` // default ""
}

// String redacts the token.
func (a AdminConfig) String() string {
	return fmt.Sprintf("admin{listen=%s token=%s}", a.Listen, redact(a.Token))
}

// MarshalLogObject logs a with the token redacted.
func (a AdminConfig) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("listen", a.Listen)
	enc.AddString("token", redact(a.Token))
	return nil
}

// LogConfig is [log].
type LogConfig struct {
	Level  string `toml:"level"`  // debug | info | warn | error; default info
	Format string `toml:"format"` // console | json; default console
}

// StoreConfig is [store]: the keys the mux reads itself, and the store
// module decoded from the same table.
type StoreConfig struct {
	Name   string   `toml:"module"`  // default "bolt"
	DLRTTL Duration `toml:"dlr_ttl"` // default 72h: how long a message id is kept for its reports
	Module Module   `toml:"-"`       // the decoded store module, not yet provisioned

	fingerprint string // the module's decoded settings, to tell a changed [store] on reload
}

// UpstreamConfig is [upstream]: the binds to the provider.
type UpstreamConfig struct {
	SystemID        string       `toml:"system_id"`
	Password        string       `toml:"password"`
	SystemType      string       `toml:"system_type"`
	Bind            string       `toml:"bind"`              // transceiver (default) | transmitter | receiver
	SessionsPerHost int          `toml:"sessions_per_host"` // default 2
	Window          int          `toml:"window"`            // default 50
	EnquireLink     Duration     `toml:"enquire_link"`      // default 30s
	ReconnectDelay  Duration     `toml:"reconnect_delay"`   // default 30s
	ResponseTimeout Duration     `toml:"response_timeout"`  // default 30s
	MaxRate         float64      `toml:"max_rate"`          // submits per second over all sessions; 0: unlimited
	Balancer        string       `toml:"balancer"`          // balancer module: least_pending (default) | round_robin
	Hosts           []HostConfig `toml:"host"`
}

// String redacts the password.
func (u UpstreamConfig) String() string {
	return fmt.Sprintf("upstream{system_id=%s password=%s hosts=%d}", u.SystemID, redact(u.Password), len(u.Hosts))
}

// HostConfig is one [[upstream.host]].
type HostConfig struct {
	Address    string `toml:"address"`     // host:port
	TLS        bool   `toml:"tls"`         // TLS to the host (the provider's port 8775)
	CA         string `toml:"ca"`          // PEM file of CAs to trust instead of the system roots
	ServerName string `toml:"server_name"` // TLS server name; default the address's host
}

// ClientConfig is one [[client]]: a downstream ESME account.
type ClientConfig struct {
	SystemID     string   `toml:"system_id"`
	Password     string   `toml:"password"`      // plain; or
	PasswordHash string   `toml:"password_hash"` // bcrypt, from smpp-mux hash-password
	MaxBinds     int      `toml:"max_binds"`     // default 10
	Weight       int      `toml:"weight"`        // share of upstream capacity when it is scarce; default 1
	Allow        []string `toml:"allow"`         // CIDRs the client may bind from; empty: anywhere
	MONumbers    []string `toml:"mo_numbers"`    // destination numbers whose MOs go to this client
	Rules        []Module `toml:"-"`             // decoded [[client.rule]] modules, in config order

	allow []netip.Prefix
}

// String redacts the password.
func (c ClientConfig) String() string {
	return fmt.Sprintf("client{system_id=%s password=%s}", c.SystemID, redact(c.Password+c.PasswordHash))
}

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return "<redacted>"
}

// rawConfig is Config as TOML sees it, with module tables kept raw.
type rawConfig struct {
	Config
	Store   toml.Primitive `toml:"store"`
	Clients []rawClient    `toml:"client"`
}

type rawClient struct {
	ClientConfig
	Rules []toml.Primitive `toml:"rule"`
}

// ConfigError is one problem in a config file.
type ConfigError struct {
	Key  string // dotted key, e.g. "client.rule.rate"; "" for syntax errors
	Line int    // 1-based; 0 when unknown
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	return b.String() + ": " + e.Msg
}

// Load reads and checks the config file at path. Every problem found is
// returned, joined; each names its key and, where it can, its line.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(src)
}

// Parse reads and checks a config from TOML source.
func Parse(src []byte) (*Config, error) {
	var raw rawConfig
	md, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &ConfigError{Msg: err.Error()}
	}
	l := loader{md: md, src: src}
	cfg := raw.Config
	cfg.Store = l.store(raw.Store)
	cfg.Clients = cfg.Clients[:0]
	for i, rc := range raw.Clients {
		c := rc.ClientConfig
		for j, p := range rc.Rules {
			if m := l.module(p, "rule", fmt.Sprintf("client[%d] %q rule[%d]", i, c.SystemID, j)); m != nil {
				c.Rules = append(c.Rules, m)
			}
		}
		cfg.Clients = append(cfg.Clients, c)
	}
	for _, k := range md.Undecoded() {
		l.errs = append(l.errs, &ConfigError{Key: k.String(), Line: keyLine(src, k), Msg: "unknown key"})
	}
	if !md.IsDefined("admin", "listen") {
		cfg.Admin.Listen = "127.0.0.1:2019"
	}
	cfg.setDefaults()
	l.check(&cfg)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return &cfg, nil
}

type loader struct {
	md   toml.MetaData
	src  []byte
	errs []error
}

func (l *loader) errorf(key string, format string, args ...any) {
	l.errs = append(l.errs, &ConfigError{Key: key, Line: keyLine(l.src, toml.Key(strings.Split(key, "."))), Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) store(p toml.Primitive) StoreConfig {
	var sc StoreConfig
	if err := l.md.PrimitiveDecode(p, &sc); err != nil {
		l.errorf("store", "%v", err)
		return sc
	}
	if sc.Name == "" {
		sc.Name = "bolt"
	}
	sc.Module = l.decodeModule(p, "store", sc.Name, "store")
	if sc.Module != nil {
		b, _ := json.Marshal(sc.Module)
		sc.fingerprint = string(b)
	}
	return sc
}

// module decodes a module table whose "module" key names a module in
// namespace; where names the table in errors.
func (l *loader) module(p toml.Primitive, namespace, where string) Module {
	var head struct {
		Name string `toml:"module"`
	}
	if err := l.md.PrimitiveDecode(p, &head); err != nil {
		l.errs = append(l.errs, &ConfigError{Key: namespace + ".module", Msg: where + ": " + err.Error()})
		return nil
	}
	if head.Name == "" {
		l.errs = append(l.errs, &ConfigError{Key: namespace + ".module", Msg: where + ": missing"})
		return nil
	}
	return l.decodeModule(p, namespace, head.Name, where)
}

func (l *loader) decodeModule(p toml.Primitive, namespace, name, where string) Module {
	mi, ok := GetModule(namespace + "." + name)
	if !ok {
		l.errs = append(l.errs, &ConfigError{Key: namespace + ".module", Line: valueLine(l.src, "module", name),
			Msg: fmt.Sprintf("%s: unknown module %q (known: %s)", where, name, moduleNames(namespace))})
		return nil
	}
	m := mi.New()
	if err := l.md.PrimitiveDecode(p, m); err != nil {
		l.errs = append(l.errs, &ConfigError{Key: namespace, Msg: fmt.Sprintf("%s: module %s: %v", where, mi.ID, err)})
		return nil
	}
	// Validate is pure: checking here lets `validate` report bad module
	// settings without provisioning anything. It runs again after
	// Provision.
	if v, ok := m.(Validator); ok {
		if err := v.Validate(); err != nil {
			l.errs = append(l.errs, &ConfigError{Key: namespace, Line: valueLine(l.src, "module", name), Msg: fmt.Sprintf("%s: %v", where, err)})
			return nil
		}
	}
	return m
}

func (c *Config) setDefaults() {
	s := &c.Server
	if s.Listen == "" {
		s.Listen = "127.0.0.1:2775"
	}
	defInt(&s.BindFailLimit, 5)
	defInt(&s.MaxConnections, 10000)
	defInt(&s.MaxPerIP, 100)
	defInt(&s.MaxUnbound, 1000)
	defInt(&s.MaxUnboundPerIP, 10)
	defInt(&s.MaxHeld, 10000)
	defInt(&s.MaxQueued, 1<<20)
	defInt(&s.Window, 10)
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "console"
	}
	u := &c.Upstream
	if u.Bind == "" {
		u.Bind = "transceiver"
	}
	if u.Balancer == "" {
		u.Balancer = "least_pending"
	}
	defInt(&u.SessionsPerHost, 2)
	defInt(&u.Window, 50)
	for i := range c.Clients {
		defInt(&c.Clients[i].MaxBinds, 10)
		defInt(&c.Clients[i].Weight, 1)
	}
}

func defInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// check validates values that decoded without error.
func (l *loader) check(c *Config) {
	for _, a := range []struct{ key, addr string }{{"server.listen", c.Server.Listen}, {"server.tls_listen", c.Server.TLSListen}, {"admin.listen", c.Admin.Listen}} {
		if a.addr != "" {
			if _, _, err := net.SplitHostPort(a.addr); err != nil {
				l.errorf(a.key, "not host:port: %q", a.addr)
			}
		}
	}
	l.checkAdmin(&c.Admin)
	if c.Server.TLSListen != "" && (c.Server.TLSCert == "" || c.Server.TLSKey == "") {
		l.errorf("server.tls_listen", "needs tls_cert and tls_key")
	}
	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		l.errorf("log.level", "want debug, info, warn or error; got %q", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "console", "json") {
		l.errorf("log.format", "want console or json; got %q", c.Log.Format)
	}
	l.checkUpstream(&c.Upstream)
	l.checkClients(c)
}

// checkAdmin requires a token when the admin endpoints listen beyond the
// loopback interface: reload and the log level must not be open to the
// network.
func (l *loader) checkAdmin(a *AdminConfig) {
	for i := 0; i < len(a.Token); i++ {
		if a.Token[i] <= ' ' || a.Token[i] > '~' {
			l.errorf("admin.token", "only printable ASCII without spaces is allowed")
			break
		}
	}
	if a.Listen == "" || a.Token != "" {
		return
	}
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return // reported as admin.listen
	}
	if ip, err := netip.ParseAddr(host); (err != nil || !ip.IsLoopback()) && !strings.EqualFold(host, "localhost") {
		l.errorf("admin.token", "required when admin.listen (%q) is not a loopback address (127.0.0.0/8, ::1, localhost)", a.Listen)
	}
}

func (l *loader) checkUpstream(u *UpstreamConfig) {
	if u.SystemID == "" {
		l.errorf("upstream.system_id", "missing")
	}
	if !oneOf(u.Bind, "transceiver", "transmitter", "receiver") {
		l.errorf("upstream.bind", "want transceiver, transmitter or receiver; got %q", u.Bind)
	}
	if len(u.Hosts) == 0 {
		l.errorf("upstream.host", "at least one [[upstream.host]] is needed")
	}
	if u.SessionsPerHost < 0 || u.Window < 0 {
		l.errorf("upstream", "sessions_per_host and window must be positive")
	}
	if _, ok := GetModule("balancer." + u.Balancer); !ok {
		l.errorf("upstream.balancer", "unknown module %q (known: %s)", u.Balancer, moduleNames("balancer"))
	}
	if u.MaxRate < 0 {
		l.errorf("upstream.max_rate", "must be positive or 0 (unlimited); got %v", u.MaxRate)
	}
	for i, h := range u.Hosts {
		if _, _, err := net.SplitHostPort(h.Address); err != nil {
			l.errorf("upstream.host.address", "host[%d]: not host:port: %q", i, h.Address)
		}
		if h.CA != "" && !h.TLS {
			l.errorf("upstream.host.ca", "host[%d]: ca without tls = true", i)
		}
	}
}

func (l *loader) checkClients(c *Config) {
	seen := map[string]bool{}
	numbers := map[string]string{}
	for i := range c.Clients {
		cl := &c.Clients[i]
		where := fmt.Sprintf("client[%d]", i)
		switch {
		case cl.SystemID == "":
			l.errorf("client.system_id", "%s: missing", where)
		case cl.SystemID == OrphanQueue:
			l.errorf("client.system_id", "%s: %q is reserved for the orphan queue", where, cl.SystemID)
		case seen[cl.SystemID]:
			l.errorf("client.system_id", "%s: %q defined twice", where, cl.SystemID)
		}
		seen[cl.SystemID] = true
		switch {
		case cl.Password == "" && cl.PasswordHash == "":
			l.errorf("client.password", "%s %q: password or password_hash is needed", where, cl.SystemID)
		case cl.Password != "" && cl.PasswordHash != "":
			l.errorf("client.password_hash", "%s %q: give password or password_hash, not both", where, cl.SystemID)
		case cl.PasswordHash != "":
			if _, err := bcrypt.Cost([]byte(cl.PasswordHash)); err != nil {
				l.errorf("client.password_hash", "%s %q: not a bcrypt hash (make one with smpp-mux hash-password)", where, cl.SystemID)
			}
		}
		if cl.MaxBinds < 0 {
			l.errorf("client.max_binds", "%s %q: must be positive", where, cl.SystemID)
		}
		if cl.Weight < 0 {
			l.errorf("client.weight", "%s %q: must be positive", where, cl.SystemID)
		}
		cl.allow = cl.allow[:0]
		for _, a := range cl.Allow {
			p, err := parsePrefix(a)
			if err != nil {
				l.errorf("client.allow", "%s %q: %q is not a CIDR or address", where, cl.SystemID, a)
				continue
			}
			cl.allow = append(cl.allow, p)
		}
		for _, n := range cl.MONumbers {
			key := NormalizeNumber(n)
			if other, dup := numbers[key]; dup {
				l.errorf("client.mo_numbers", "%s %q: %q is claimed by %q too", where, cl.SystemID, n, other)
			}
			numbers[key] = cl.SystemID
		}
	}
	if c.Server.MODefault != "" && !seen[c.Server.MODefault] {
		l.errorf("server.mo_default", "no [[client]] with system_id %q", c.Server.MODefault)
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// ClientNames returns the configured system_ids, sorted.
func (c *Config) ClientNames() []string {
	out := make([]string, 0, len(c.Clients))
	for _, cl := range c.Clients {
		out = append(out, cl.SystemID)
	}
	sort.Strings(out)
	return out
}
