package mux

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.uber.org/zap/zapcore"
	"golang.org/x/crypto/bcrypt"

	"github.com/smpp-mux/smpp-mux/downstream"
	"github.com/smpp-mux/smpp-mux/upstream"

	"github.com/smpp-mux/smpp-mux/balancer"
	"github.com/smpp-mux/smpp-mux/module"
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
// The session limits are downstream's own keys, decoded into the embedded
// downstream.Config and defaulted by it; the rest are the mux's.
type ServerConfig struct {
	Listen    string `toml:"listen"`     // default "127.0.0.1:2775"
	TLSListen string `toml:"tls_listen"` // "" disables downstream TLS
	TLSCert   string `toml:"tls_cert"`   // PEM certificate chain for tls_listen
	TLSKey    string `toml:"tls_key"`    // PEM private key for tls_listen
	MODefault string `toml:"mo_default"` // client that gets MOs no mo_numbers entry claims
	// bind_timeout, bind_fail_limit, bind_lockout, max_connections,
	// max_connections_per_ip, max_unbound, max_unbound_per_ip,
	// max_queued, enquire_link, response_timeout (a deliver_sm unanswered
	// by then is delivered again) and window: see downstream.Config.
	downstream.Config
	TrustedProxies []string        `toml:"trusted_proxies"` // CIDRs whose connections may open with a PROXY protocol header
	MaxHeld        int             `toml:"max_held"`        // default 10000: unmatched receipts an instance retries at once
	SubmitWait     module.Duration `toml:"submit_wait"`     // default 5s: how long a submit_sm may wait for upstream room
	DLRGrace       module.Duration `toml:"dlr_grace"`       // default 10s: with upstream.response_timeout, when an unmatched receipt counts as orphaned

	trustedProxies []netip.Prefix // TrustedProxies, parsed
}

// defaults fills the zero keys of [server] with their defaults: the
// mux's here, the session limits in downstream.Config.Defaults.
func (s *ServerConfig) defaults() {
	if s.Listen == "" {
		s.Listen = "127.0.0.1:2775"
	}
	s.Config.Defaults()
	defInt(&s.MaxHeld, 10000)
	defDur(&s.SubmitWait, 5*time.Second)
	defDur(&s.DLRGrace, 10*time.Second)
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
	Name   string          `toml:"module"`  // default "bolt"
	DLRTTL module.Duration `toml:"dlr_ttl"` // default 72h: how long a message id is kept for its reports
	// Journal is the file keeping the message ids the store failed to
	// write until it takes them; default beside the store's file
	// (store.bolt: <path without extension>.ids.journal), else
	// smpp-mux.ids.journal in the working directory.
	Journal      string `toml:"journal"`
	JournalMaxMB int    `toml:"journal_max_mb"` // default 64; past it ids the store failed to write are kept in memory only
	// FinalTTL is how long an id is kept once a receipt with a final
	// state (DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN) was
	// stored for its client: a window for late duplicates. Default 1h; at
	// dlr_ttl or more, ids keep dlr_ttl.
	FinalTTL module.Duration `toml:"final_ttl"`
	// Trace keeps each message's history (submit, receipts stored,
	// delivered) in the store for GET /messages/{id}; default true. It
	// costs throughput on the receipts path (bench/README.md): turn it
	// off when every message counts.
	Trace  *bool         `toml:"trace"`
	Module module.Module `toml:"-"` // the decoded store module, not yet provisioned

	fingerprint string // the module's decoded settings, to tell a changed [store] on reload
}

// defaults fills the zero durations of [store] with their defaults.
func (sc *StoreConfig) defaults() {
	defDur(&sc.DLRTTL, 72*time.Hour)
	defDur(&sc.FinalTTL, time.Hour)
}

// Tracing reports whether [store] trace is on (the default).
func (sc StoreConfig) Tracing() bool { return sc.Trace == nil || *sc.Trace }

// UpstreamConfig is [upstream]: the binds to the provider.
//
// The session settings are upstream's own keys, decoded into the
// embedded upstream.Config, which defaults and checks them (Defaults,
// Problems). Bind and Hosts are their TOML form: the loader gives the
// embedded Config.Bind and Config.Hosts from them, and the mux adds the
// hosts' TLS settings when it builds the pool.
type UpstreamConfig struct {
	// system_id, password, system_type, sessions_per_host, window,
	// enquire_link, reconnect_delay and response_timeout: see
	// upstream.Config.
	upstream.Config
	Bind    string  `toml:"bind"`     // transceiver (default) | transmitter | receiver; see upstream.ParseBind
	MaxRate float64 `toml:"max_rate"` // submits per second over all sessions; 0: unlimited
	// Balancer names the balancer module: least_pending (default) or
	// round_robin. [upstream.balancer] with module = "name" and the
	// module's keys is the same, for balancers that take settings.
	Balancer string       `toml:"balancer"`
	Hosts    []HostConfig `toml:"host"`

	// FleetMaxSessions caps the provider binds of every instance sharing
	// the store together; 0: no cap (each instance opens
	// sessions_per_host per host).
	FleetMaxSessions int `toml:"fleet_max_sessions"`

	balancer module.Module // the decoded balancer module, not yet provisioned
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
	SystemID     string          `toml:"system_id"`
	Password     string          `toml:"password"`      // plain; or
	PasswordHash string          `toml:"password_hash"` // bcrypt, from smpp-mux hash-password
	MaxBinds     int             `toml:"max_binds"`     // default 10
	Weight       int             `toml:"weight"`        // share of upstream capacity when it is scarce; default 1
	Allow        []string        `toml:"allow"`         // CIDRs the client may bind from; empty: anywhere
	MONumbers    []string        `toml:"mo_numbers"`    // destination numbers whose MOs go to this client
	Rules        []module.Module `toml:"-"`             // decoded [[client.rule]] modules, in config order

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
// Besides what Parse checks, Load looks at what the config names outside
// itself, without changing anything: TLS certificates and keys load, CA
// files hold certificates, and modules that implement Checker (a plugin's
// command, a store's directory) pass their Check. run, validate and
// reload all use Load.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(src, true)
}

// Parse reads and checks a config from TOML source. It does not look at
// files or commands the config names; Load does.
func Parse(src []byte) (*Config, error) { return parse(src, false) }

func parse(src []byte, files bool) (*Config, error) {
	var top map[string]toml.Primitive
	md, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &ConfigError{Msg: err.Error()}
	}
	l := loader{md: &md, lines: lineIndex(&md, src), undecoded: map[string]bool{}}
	var cfg Config
	for _, name := range l.sorted("", top) {
		p := top[name]
		switch name {
		case "server":
			l.table(p, name, "", &cfg.Server)
		case "admin":
			l.table(p, name, "", &cfg.Admin)
		case "log":
			l.table(p, name, "", &cfg.Log)
		case "upstream":
			l.upstream(p, &cfg.Upstream)
		case "store": // below: a config without [store] gets the default store
		case "client":
			l.clients(p, &cfg)
		default:
			l.errorf(name, "unknown key")
		}
	}
	p, ok := top["store"]
	cfg.Store = l.store(p, ok)
	cfg.Upstream.balancer = l.balancer(&cfg.Upstream)
	if !md.IsDefined("admin", "listen") {
		cfg.Admin.Listen = "127.0.0.1:2019"
	}
	cfg.setDefaults()
	l.check(&cfg)
	if files && len(l.errs) == 0 {
		l.checkFiles(&cfg)
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i].Line, l.errs[j].Line
			return a != 0 && (b == 0 || a < b)
		})
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return &cfg, nil
}

// loader decodes a config table by table and key by key, so that one bad
// value is reported alone: the keys beside it still decode, and none of
// them is taken for an unknown key. Keys are named by path, with array
// indexes ("client[1].rule[0].rate"), to find their lines; errors name
// the key without them.
type loader struct {
	md        *toml.MetaData
	lines     map[string]int // path -> line
	errs      []*ConfigError
	undecoded map[string]bool // paths whose values did not decode

	clientPaths []string        // the path of each decoded client, as cfg.Clients
	modules     []loadedModule  // for checkFiles
	balancerP   *toml.Primitive // [upstream] balancer, decoded last by balancer
}

type loadedModule struct {
	path, where string
	m           module.Module
}

// errorf adds an error about the key at path, at the key's line or, when
// the key is absent, at its table's.
func (l *loader) errorf(path string, format string, args ...any) {
	l.add(path, path, fmt.Sprintf(format, args...))
}

// add adds an error naming the key at path, at the line of the key at
// linePath (or of its table). An error about a key whose value, or whose
// table, did not decode is dropped: it follows from the one reported.
func (l *loader) add(path, linePath, msg string) {
	for p := path; p != ""; {
		if l.undecoded[p] {
			return
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	l.errs = append(l.errs, &ConfigError{Key: unindexed(path), Line: l.line(linePath), Msg: msg})
}

func (l *loader) line(path string) int {
	for path != "" {
		if n, ok := l.lines[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// decodeErr adds a decoding error of the value at path.
func (l *loader) decodeErr(path, where string, err error) {
	msg := err.Error()
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg = pe.Message
	} else if rest, ok := strings.CutPrefix(msg, "toml: "); ok {
		// "toml: line 9 (last key "client.weight"): incompatible types: ...":
		// the line is the last array element's and the key is named anyway.
		msg = rest
		if i := strings.Index(rest, "): "); i >= 0 && strings.Contains(rest[:i], "(last key ") {
			msg = rest[i+3:]
		}
	}
	l.errorf(path, "%s%s", prefix(where), msg)
	l.undecoded[path] = true
}

func prefix(where string) string {
	if where == "" {
		return ""
	}
	return where + ": "
}

// sorted returns the keys of a table in the order of their lines.
func (l *loader) sorted(path string, keys map[string]toml.Primitive) []string {
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sep := "."
	if path == "" {
		sep = ""
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := l.lines[path+sep+out[i]], l.lines[path+sep+out[j]]
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

// keys decodes the table at path into its keys and their undecoded values.
func (l *loader) keys(p toml.Primitive, path, where string) (map[string]toml.Primitive, bool) {
	// The decoder takes a value that is not a table for an empty table.
	var v any
	if err := l.md.PrimitiveDecode(p, &v); err != nil {
		l.decodeErr(path, where, err)
		return nil, false
	}
	if _, ok := v.(map[string]any); !ok {
		l.errorf(path, "%swant a table; got %#v", prefix(where), v)
		l.undecoded[path] = true
		return nil, false
	}
	var keys map[string]toml.Primitive
	if err := l.md.PrimitiveDecode(p, &keys); err != nil {
		l.decodeErr(path, where, err)
		return nil, false
	}
	return keys, true
}

// table decodes the table p at path into the structs dst; see fields.
func (l *loader) table(p toml.Primitive, path, where string, dst ...any) bool {
	keys, ok := l.keys(p, path, where)
	if ok {
		return l.fields(keys, path, where, dst...)
	}
	return false
}

// fields decodes each key of a table into the field of the first struct
// in dst that has one (as the TOML decoder matches them: by tag, else by
// name, exactly, else ignoring case). Keys no struct has are unknown.
// where names the table in messages ("" for none). It reports whether
// every key decoded.
func (l *loader) fields(keys map[string]toml.Primitive, path, where string, dst ...any) bool {
	n := len(l.errs)
	for _, k := range l.sorted(path, keys) {
		f, ok := field(k, dst)
		if !ok {
			l.errorf(path+"."+k, "%sunknown key", prefix(where))
			continue
		}
		l.value(keys[k], path+"."+k, where, f)
	}
	return len(l.errs) == n
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	tomlUnmarshaler = reflect.TypeFor[toml.Unmarshaler]()
	stdDuration     = reflect.TypeFor[time.Duration]()
)

// value decodes p into v: a table into a struct and an array of tables
// into a slice of structs key by key, anything else whole.
func (l *loader) value(p toml.Primitive, path, where string, v reflect.Value) {
	t := v.Type()
	own := func(t reflect.Type) bool {
		pt := reflect.PointerTo(t)
		return pt.Implements(textUnmarshaler) || pt.Implements(tomlUnmarshaler)
	}
	switch {
	case t == stdDuration:
		// A package that owns its section (downstream, upstream) keeps
		// time.Duration fields: they read as module.Duration does.
		var d module.Duration
		if err := l.md.PrimitiveDecode(p, &d); err != nil {
			l.decodeErr(path, where, err)
			return
		}
		v.SetInt(int64(d))
	case t.Kind() == reflect.Struct && !own(t):
		l.table(p, path, where, v.Addr().Interface())
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !own(t.Elem()):
		var elems []toml.Primitive
		if err := l.md.PrimitiveDecode(p, &elems); err != nil {
			l.decodeErr(path, where, err)
			return
		}
		v.Set(reflect.MakeSlice(t, len(elems), len(elems)))
		name := path[strings.LastIndexByte(path, '.')+1:]
		for i, e := range elems {
			l.table(e, fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("%s[%d]", name, i), v.Index(i).Addr().Interface())
		}
	default:
		if err := l.md.PrimitiveDecode(p, v.Addr().Interface()); err != nil {
			l.decodeErr(path, where, err)
		}
	}
}

// field finds the field key decodes into in the first of the structs
// (pointers) in dst that has one.
func field(key string, dst []any) (reflect.Value, bool) {
	for _, d := range dst {
		v := reflect.ValueOf(d).Elem()
		if f, ok := structField(v, key); ok {
			return f, true
		}
	}
	return reflect.Value{}, false
}

func structField(v reflect.Value, key string) (reflect.Value, bool) {
	var fold reflect.Value
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("toml")
		if tag == "-" {
			continue
		}
		if sf.Anonymous && tag == "" && sf.Type.Kind() == reflect.Struct {
			if f, ok := structField(v.Field(i), key); ok {
				return f, true
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		if name == key {
			return v.Field(i), true
		}
		if !fold.IsValid() && strings.EqualFold(name, key) {
			fold = v.Field(i)
		}
	}
	return fold, fold.IsValid()
}

func (l *loader) clients(p toml.Primitive, cfg *Config) {
	var elems []toml.Primitive
	if err := l.md.PrimitiveDecode(p, &elems); err != nil {
		l.decodeErr("client", "", err)
		return
	}
	for i, e := range elems {
		path := fmt.Sprintf("client[%d]", i)
		keys, ok := l.keys(e, path, path)
		if !ok {
			continue
		}
		var c ClientConfig
		if id, ok := keys["system_id"]; ok {
			_ = l.md.PrimitiveDecode(id, &c.SystemID) // an error is reported with the other keys
		}
		where := path
		if c.SystemID != "" {
			where = fmt.Sprintf("%s %q", path, c.SystemID)
		}
		if rules, ok := keys["rule"]; ok {
			delete(keys, "rule")
			var rs []toml.Primitive
			if err := l.md.PrimitiveDecode(rules, &rs); err != nil {
				l.decodeErr(path+".rule", where, err)
			}
			for j, r := range rs {
				if m := l.module(r, fmt.Sprintf("%s.rule[%d]", path, j), "rule", fmt.Sprintf("%s rule[%d]", where, j)); m != nil {
					c.Rules = append(c.Rules, m)
				}
			}
		}
		l.fields(keys, path, where, &c)
		cfg.Clients = append(cfg.Clients, c)
		l.clientPaths = append(l.clientPaths, path)
	}
}

// store decodes [store]: the mux's own keys and the module's. With no
// [store] table the default module is used with its defaults.
func (l *loader) store(p toml.Primitive, defined bool) StoreConfig {
	var sc StoreConfig
	keys := map[string]toml.Primitive{}
	if defined {
		var ok bool
		if keys, ok = l.keys(p, "store", ""); !ok {
			return sc
		}
	}
	if mp, ok := keys["module"]; ok {
		delete(keys, "module")
		if err := l.md.PrimitiveDecode(mp, &sc.Name); err != nil {
			l.decodeErr("store.module", "", err)
			return sc
		}
		if sc.Name == "" {
			l.errorf("store.module", "empty; want a store module (known: %s)", module.Names("store"))
			return sc
		}
	} else {
		sc.Name = "bolt"
	}
	own := map[string]toml.Primitive{}
	for _, k := range []string{"dlr_ttl", "final_ttl", "journal", "journal_max_mb", "trace"} {
		if v, ok := keys[k]; ok {
			own[k] = v
			delete(keys, k)
		}
	}
	l.fields(own, "store", "", &sc)
	sc.Module = l.decodeModule(keys, "store", "store", sc.Name, "")
	if sc.Module != nil {
		b, _ := json.Marshal(sc.Module)
		sc.fingerprint = string(b)
	}
	return sc
}

// upstream decodes [upstream], but for its balancer key, which balancer
// decodes once every table is read.
func (l *loader) upstream(p toml.Primitive, u *UpstreamConfig) {
	keys, ok := l.keys(p, "upstream", "")
	if !ok {
		return
	}
	if bp, ok := keys["balancer"]; ok {
		delete(keys, "balancer")
		l.balancerP = &bp
	}
	l.fields(keys, "upstream", "", u)
	if id, err := upstream.ParseBind(u.Bind); err != nil {
		l.errorf("upstream.bind", "%v", err)
	} else {
		u.Config.Bind = id
	}
	u.Config.Hosts = u.Config.Hosts[:0]
	for _, h := range u.Hosts {
		u.Config.Hosts = append(u.Config.Hosts, upstream.Host{Address: h.Address, TLS: h.TLS})
	}
}

// balancer decodes [upstream] balancer: the name of a balancer module
// (default balancer.Default), or the module's table with its "module"
// key and settings.
func (l *loader) balancer(u *UpstreamConfig) module.Module {
	keys := map[string]toml.Primitive{}
	if l.balancerP != nil {
		var v any
		if err := l.md.PrimitiveDecode(*l.balancerP, &v); err == nil {
			if _, table := v.(map[string]any); table {
				m := l.isBalancer(l.module(*l.balancerP, "upstream.balancer", "balancer", ""), "upstream.balancer.module")
				if m != nil {
					u.Balancer = m.MuxModule().Name()
				}
				return m
			}
		}
		l.value(*l.balancerP, "upstream.balancer", "", reflect.ValueOf(&u.Balancer).Elem())
		if l.undecoded["upstream.balancer"] {
			return nil
		}
	}
	if u.Balancer == "" {
		u.Balancer = balancer.Default
	}
	if _, ok := module.Get("balancer." + u.Balancer); !ok {
		l.errorf("upstream.balancer", "unknown module %q (known: %s)", u.Balancer, module.Names("balancer"))
		return nil
	}
	return l.isBalancer(l.decodeModule(keys, "upstream.balancer", "balancer", u.Balancer, ""), "upstream.balancer")
}

// isBalancer returns m when it is a balancer, and reports it at path
// when not.
func (l *loader) isBalancer(m module.Module, path string) module.Module {
	if m == nil {
		return nil
	}
	if _, ok := m.(balancer.Balancer); !ok {
		l.errorf(path, "module %s is not a balancer", m.MuxModule().ID)
		return nil
	}
	return m
}

// module decodes the module table p at path, whose "module" key names a
// module in namespace; where names the table in errors.
func (l *loader) module(p toml.Primitive, path, namespace, where string) module.Module {
	keys, ok := l.keys(p, path, where)
	if !ok {
		return nil
	}
	var name string
	if mp, ok := keys["module"]; ok {
		delete(keys, "module")
		if err := l.md.PrimitiveDecode(mp, &name); err != nil {
			l.decodeErr(path+".module", where, err)
			return nil
		}
	}
	if name == "" {
		l.errorf(path+".module", "%smissing; want a %s module (known: %s)", prefix(where), namespace, module.Names(namespace))
		return nil
	}
	return l.decodeModule(keys, path, namespace, name, where)
}

// decodeModule makes the module namespace.name and decodes keys, the
// rest of its table at path, into it. When the module is unknown, its
// keys are not looked at: they are not the error.
func (l *loader) decodeModule(keys map[string]toml.Primitive, path, namespace, name, where string) module.Module {
	mi, ok := module.Get(namespace + "." + name)
	if !ok {
		l.errorf(path+".module", "%sunknown module %q (known: %s)", prefix(where), name, module.Names(namespace))
		return nil
	}
	m := mi.New()
	if !l.fields(keys, path, where, m) {
		return nil
	}
	// Validate is pure: checking here lets `validate` report bad module
	// settings without provisioning anything. It runs again after
	// Provision.
	if v, ok := m.(module.Validator); ok {
		if err := v.Validate(); err != nil {
			l.moduleErr(path, where, err)
			return nil
		}
	}
	l.modules = append(l.modules, loadedModule{path: path, where: where, m: m})
	return m
}

// moduleErr adds an error a module's Validate or Check returned: at the
// key it names with a KeyError, else at the module's "module" line.
func (l *loader) moduleErr(path, where string, err error) {
	var ke *module.KeyError
	if errors.As(err, &ke) {
		l.add(path+"."+ke.Key, path+"."+ke.Key, prefix(where)+ke.Err.Error())
		return
	}
	l.add(path, path+".module", prefix(where)+err.Error())
}

// setDefaults fills the keys left out with their defaults, section by
// section; a section's defaults are in one place, its own.
func (c *Config) setDefaults() {
	c.Server.defaults()
	c.Store.defaults()
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "console"
	}
	c.Upstream.Config.Defaults()
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

func defDur(v *module.Duration, def time.Duration) {
	if *v == 0 {
		*v = module.Duration(def)
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
	c.Server.trustedProxies = c.Server.trustedProxies[:0]
	for _, a := range c.Server.TrustedProxies {
		p, err := parsePrefix(a)
		if err != nil {
			l.errorf("server.trusted_proxies", "%q is not a CIDR or address", a)
			continue
		}
		c.Server.trustedProxies = append(c.Server.trustedProxies, p)
	}
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
		l.add("admin.token", "admin.listen", fmt.Sprintf("required when admin.listen (%q) is not a loopback address (127.0.0.0/8, ::1, localhost)", a.Listen))
	}
}

// checkUpstream reports what upstream.Config finds wrong with its
// settings, and checks the mux's own keys of [upstream].
func (l *loader) checkUpstream(u *UpstreamConfig) {
	for _, p := range u.Config.Problems() {
		l.errorf("upstream."+p.Key, "%s", p.Msg)
	}
	if u.MaxRate < 0 {
		l.errorf("upstream.max_rate", "must be positive or 0 (unlimited); got %v", u.MaxRate)
	}
	if u.FleetMaxSessions < 0 {
		l.errorf("upstream.fleet_max_sessions", "must be positive or 0 (no cap); got %d", u.FleetMaxSessions)
	}
	for i, h := range u.Hosts {
		if h.CA != "" && !h.TLS {
			l.errorf(fmt.Sprintf("upstream.host[%d].ca", i), "host[%d]: ca without tls = true", i)
		}
	}
}

func (l *loader) checkClients(c *Config) {
	seen := map[string]bool{}
	numbers := map[string]string{}
	for i := range c.Clients {
		cl := &c.Clients[i]
		path := l.clientPaths[i]
		where := path
		switch {
		case cl.SystemID == "":
			l.errorf(path+".system_id", "%s: missing", where)
		case cl.SystemID == OrphanQueue:
			l.errorf(path+".system_id", "%s: %q is reserved for the orphan queue", where, cl.SystemID)
		case seen[cl.SystemID]:
			l.errorf(path+".system_id", "%s: %q defined twice", where, cl.SystemID)
		}
		seen[cl.SystemID] = true
		where = fmt.Sprintf("%s %q", path, cl.SystemID)
		switch {
		case cl.Password == "" && cl.PasswordHash == "":
			l.errorf(path+".password", "%s: password or password_hash is needed", where)
		case cl.Password != "" && cl.PasswordHash != "":
			l.errorf(path+".password_hash", "%s: give password or password_hash, not both", where)
		case cl.PasswordHash != "":
			if _, err := bcrypt.Cost([]byte(cl.PasswordHash)); err != nil {
				l.errorf(path+".password_hash", "%s: not a bcrypt hash (make one with smpp-mux hash-password)", where)
			}
		}
		if cl.MaxBinds < 0 {
			l.errorf(path+".max_binds", "%s: must be positive", where)
		}
		if cl.Weight < 0 {
			l.errorf(path+".weight", "%s: must be positive", where)
		}
		cl.allow = cl.allow[:0]
		for _, a := range cl.Allow {
			p, err := parsePrefix(a)
			if err != nil {
				l.errorf(path+".allow", "%s: %q is not a CIDR or address", where, a)
				continue
			}
			cl.allow = append(cl.allow, p)
		}
		for _, n := range cl.MONumbers {
			key := NormalizeNumber(n)
			if other, dup := numbers[key]; dup {
				l.errorf(path+".mo_numbers", "%s: %q is claimed by %q too", where, n, other)
			}
			numbers[key] = cl.SystemID
		}
	}
	if c.Server.MODefault != "" && !seen[c.Server.MODefault] {
		l.errorf("server.mo_default", "no [[client]] with system_id %q", c.Server.MODefault)
	}
}

// readable reports whether the file the key at path names can be opened
// for reading, and adds an error when not.
func (l *loader) readable(path, file string) bool {
	f, err := os.Open(file)
	if err != nil {
		l.errorf(path, "%v", err)
		return false
	}
	_ = f.Close()
	return true
}

// checkFiles looks at the files, directories and commands the config
// names, as they are now. It runs once the config itself is valid, so
// that what it reports is not a consequence of another error.
func (l *loader) checkFiles(c *Config) {
	s := c.Server
	if s.TLSListen != "" {
		cert, key := l.readable("server.tls_cert", s.TLSCert), l.readable("server.tls_key", s.TLSKey)
		if cert && key {
			if _, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey); err != nil {
				l.errorf("server.tls_cert", "with tls_key %s: %v", s.TLSKey, err)
			}
		}
	}
	for i, h := range c.Upstream.Hosts {
		if h.CA == "" || !h.TLS {
			continue
		}
		path := fmt.Sprintf("upstream.host[%d].ca", i)
		pem, err := os.ReadFile(h.CA)
		if err != nil {
			l.errorf(path, "host[%d]: %v", i, err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			l.errorf(path, "host[%d]: no PEM certificate in %s", i, h.CA)
		}
	}
	for _, lm := range l.modules {
		if ch, ok := lm.m.(module.Checker); ok {
			if err := ch.Check(); err != nil {
				l.moduleErr(lm.path, lm.where, err)
			}
		}
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
