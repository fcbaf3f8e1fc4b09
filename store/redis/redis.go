package redis

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
)

func init() {
	module.Register(new(Store))
	goredis.SetLogger(libLogger{})
}

// libLog is the logger go-redis's own messages (dial failures, pool
// events) go to, at Debug: the store that opened last, until it closes.
// go-redis has one process-wide logger; its errors also reach the
// callers, so nothing needs a higher level.
var libLog atomic.Pointer[zap.Logger]

// libLogger is go-redis's internal.Logging on libLog.
type libLogger struct{}

// Printf implements go-redis's logging interface.
func (libLogger) Printf(_ context.Context, format string, v ...any) {
	if l := libLog.Load(); l != nil {
		if ce := l.Check(zap.DebugLevel, "go-redis"); ce != nil {
			ce.Write(zap.String("detail", fmt.Sprintf(format, v...)))
		}
	}
}

// Defaults of the module's keys.
const (
	DefaultURL     = "redis://127.0.0.1:6379/0"
	DefaultPrefix  = "smppmux"
	DefaultTimeout = 2 * time.Second
)

// group is the one consumer group of every queue stream; each mux
// instance is a consumer in it.
const group = "mux"

// Store is the store.redis module: a store.Store in a Redis server that
// several mux instances share, so that a report reaching any instance
// finds its message id and its client's queue. Every write returns after
// Redis acknowledged it; leases live in Redis too, so an instance that
// dies loses its leases to the others when they run out.
//
// The zero value is not usable: it is made by the module loader and
// Provision, or by Open.
type Store struct {
	// Where Redis is: either url (one server) or addrs (a Sentinel, a
	// Cluster, or one server given by address).
	URL            string   `toml:"url"`             // redis://[user:password@]host:port/db; rediss:// for TLS; default redis://127.0.0.1:6379/0 when addrs is empty
	Addrs          []string `toml:"addrs"`           // host:port of the server, of Sentinels (with sentinel_master) or of cluster nodes (several, or cluster = true)
	SentinelMaster string   `toml:"sentinel_master"` // the master's name the Sentinels at addrs know
	Cluster        bool     `toml:"cluster"`         // addrs are cluster nodes even when there is one (a configuration endpoint)
	Username       string   `toml:"username"`        // with addrs: ACL user
	Password       string   `toml:"password"`        // with addrs: password (of the Redis servers, not of the Sentinels)
	SentinelPass   string   `toml:"sentinel_password"`
	DB             int      `toml:"db"`     // with addrs: database; 0 only with a cluster
	TLS            bool     `toml:"tls"`    // with addrs: connect with TLS, trusting the system roots or tls_ca
	TLSCA          string   `toml:"tls_ca"` // with addrs: PEM file of the CAs to trust

	Prefix  string          `toml:"prefix"`  // default "smppmux"
	Timeout module.Duration `toml:"timeout"` // per call; default 2s
	// retention (default 48h), queue_cap (default 25000) and sweep
	// (default 1m): see store.Limits.
	store.Limits

	limits   store.Limits
	timeout  time.Duration
	consumer string // this instance's name in the consumer groups
	keys     keys
	log      *zap.Logger
	ids      idCount  // ids this instance stored, by expiry: Stats.IDs
	known    knownSet // clients this instance added to the clients set
	expireLT bool     // Redis has PEXPIREAT ... LT (7.0 and later); set by ping
	handouts handouts // entries Fetch handed out, to find those a lost reply leased
	// leasing is held shared by the calls that lease entries to this
	// consumer (Fetch, EnqueueLeased) from before their script runs until
	// handouts knows what they leased, and exclusively by the recovery of
	// stranded entries (stranded.go), which would otherwise take an entry
	// whose reply is on its way for one a lost reply leased.
	leasing sync.RWMutex

	closeMu sync.RWMutex            // held for reading by every call; for writing by Close
	rdb     goredis.UniversalClient // nil until opened; guarded by closeMu
	closed  bool                    // guarded by closeMu

	dropped      atomic.Uint64 // entries this instance's sweep and fetches removed
	sweepFailing bool          // the last sweep failed; owned by the sweep goroutine

	dropMu sync.Mutex     // guards drops
	drops  map[string]int // client -> entries Fetch trimmed past retention since the last sweep log

	stopOnce sync.Once
	stop     chan struct{}  // closed by Close to stop the sweep
	wg       sync.WaitGroup // the sweep goroutine
}

// MuxModule implements module.Module.
func (*Store) MuxModule() module.Info {
	return module.Info{
		ID:  "store.redis",
		New: func() module.Module { return new(Store) },
		Doc: "ids and report queues in Redis (streams), shared by several mux instances",
	}
}

// Option sets a key of a Store made by Open.
type Option func(*Store)

// WithPrefix sets the key prefix (default "smppmux").
func WithPrefix(p string) Option { return func(s *Store) { s.Prefix = p } }

// WithTimeout sets the per-call timeout (default 2s).
func WithTimeout(d time.Duration) Option { return func(s *Store) { s.Timeout = module.Duration(d) } }

// Open connects to the Redis at url with limits and starts the sweep, for
// tests and tools. ctx bounds the connection check only; Close stops the
// sweep and closes the connections. log may be nil.
func Open(ctx context.Context, url string, limits store.Limits, log *zap.Logger, opts ...Option) (*Store, error) {
	s := &Store{
		URL:    url,
		Limits: limits,
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.open(ctx, context.Background(), log); err != nil {
		return nil, err
	}
	return s, nil
}

// Provision implements module.Provisioner: it connects and checks that Redis
// answers, so that a wrong url is found at start; later outages are
// tolerated (calls fail until Redis is back). The sweep stops when ctx is
// cancelled or at Cleanup.
func (s *Store) Provision(ctx module.Context) error {
	return s.open(ctx, ctx, ctx.Logger())
}

// Validate implements module.Validator.
func (s *Store) Validate() error { return s.check() }

// Cleanup implements module.CleanerUpper; it also works after a Provision
// that failed.
func (s *Store) Cleanup() error { return s.Close() }

// String describes the store with its passwords redacted.
func (s *Store) String() string {
	t := s.target()
	if len(s.Addrs) == 0 {
		t = "url=" + t
	}
	return fmt.Sprintf("store.redis{%s prefix=%s}", t, s.Prefix)
}

// MarshalLogObject implements zapcore.ObjectMarshaler, redacting the
// passwords.
func (s *Store) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if len(s.Addrs) == 0 {
		enc.AddString("url", redactURL(s.URL))
	} else {
		enc.AddString("addrs", strings.Join(s.Addrs, ","))
		enc.AddString("mode", s.mode())
		if s.SentinelMaster != "" {
			enc.AddString("sentinel_master", s.SentinelMaster)
		}
		if s.Username != "" {
			enc.AddString("username", s.Username)
		}
		if s.Password != "" {
			enc.AddString("password", redacted)
		}
	}
	enc.AddString("prefix", s.Prefix)
	return nil
}

// redacted stands for a password in String and logs.
const redacted = "xxxxx"

// target names where Redis is, without passwords, for String and errors.
func (s *Store) target() string {
	if len(s.Addrs) == 0 {
		return redactURL(s.URL)
	}
	t := s.mode() + " addrs=" + strings.Join(s.Addrs, ",")
	if s.SentinelMaster != "" {
		t += " sentinel_master=" + s.SentinelMaster
	}
	if s.Password != "" {
		t += " password=" + redacted
	}
	return t
}

// mode is how addrs are used: "sentinel", "cluster" or "single".
func (s *Store) mode() string {
	switch {
	case s.SentinelMaster != "":
		return "sentinel"
	case s.Cluster || len(s.Addrs) > 1:
		return "cluster"
	default:
		return "single"
	}
}

func (s *Store) check() error {
	if err := s.Limits.Invalid(); err != nil {
		return fmt.Errorf("store.redis: %w", err)
	}
	if strings.ContainsAny(s.Prefix, "{}") {
		return fmt.Errorf("store.redis: prefix %q: must not contain { or } (they would make every key one cluster hash slot)", s.Prefix)
	}
	if len(s.Addrs) == 0 {
		if s.SentinelMaster != "" || s.Cluster || s.Username != "" || s.Password != "" || s.SentinelPass != "" || s.DB != 0 || s.TLS || s.TLSCA != "" {
			return errors.New("store.redis: sentinel_master, cluster, username, password, sentinel_password, db, tls and tls_ca go with addrs; a url carries its own user, password, db and TLS (rediss://)")
		}
		if s.URL != "" {
			if _, err := parseURL(s.URL); err != nil {
				return err
			}
		}
		return nil
	}
	if s.URL != "" {
		return errors.New("store.redis: set url or addrs, not both")
	}
	for _, a := range s.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("store.redis: addrs: %q: %w", a, err)
		}
	}
	if s.SentinelMaster != "" && s.Cluster {
		return errors.New("store.redis: sentinel_master and cluster = true exclude each other")
	}
	if s.DB < 0 || (s.DB != 0 && s.mode() == "cluster") {
		return fmt.Errorf("store.redis: db %d: a cluster has only db 0", s.DB)
	}
	if s.TLSCA != "" && !s.TLS {
		return errors.New("store.redis: tls_ca without tls = true")
	}
	return nil
}

// universal returns the client options: from the url, or from addrs and
// the keys that go with them.
func (s *Store) universal() (*goredis.UniversalOptions, error) {
	if len(s.Addrs) == 0 {
		o, err := parseURL(s.URL)
		if err != nil {
			return nil, err
		}
		return fromURL(o), nil
	}
	u := &goredis.UniversalOptions{
		Addrs:            slices.Clone(s.Addrs),
		MasterName:       s.SentinelMaster,
		IsClusterMode:    s.Cluster,
		Username:         s.Username,
		Password:         s.Password,
		SentinelPassword: s.SentinelPass,
		DB:               s.DB,
	}
	if s.TLS {
		u.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if s.TLSCA != "" {
			pem, err := os.ReadFile(s.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("store.redis: tls_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("store.redis: tls_ca %s: no PEM certificate", s.TLSCA)
			}
			u.TLSConfig.RootCAs = pool
		}
	}
	return u, nil
}

// fromURL carries what goredis.ParseURL read from a url (address, user,
// password, db, TLS and the query's options) into UniversalOptions of
// one server.
func fromURL(o *goredis.Options) *goredis.UniversalOptions {
	return &goredis.UniversalOptions{
		Addrs:                   []string{o.Addr},
		Username:                o.Username,
		Password:                o.Password,
		DB:                      o.DB,
		TLSConfig:               o.TLSConfig,
		Protocol:                o.Protocol,
		ClientName:              o.ClientName,
		MaxRetries:              o.MaxRetries,
		MinRetryBackoff:         o.MinRetryBackoff,
		MaxRetryBackoff:         o.MaxRetryBackoff,
		DialTimeout:             o.DialTimeout,
		ReadTimeout:             o.ReadTimeout,
		WriteTimeout:            o.WriteTimeout,
		PoolFIFO:                o.PoolFIFO,
		PoolSize:                o.PoolSize,
		MaxConcurrentDials:      o.MaxConcurrentDials,
		PoolTimeout:             o.PoolTimeout,
		MinIdleConns:            o.MinIdleConns,
		MaxIdleConns:            o.MaxIdleConns,
		MaxActiveConns:          o.MaxActiveConns,
		ConnMaxIdleTime:         o.ConnMaxIdleTime,
		ConnMaxLifetime:         o.ConnMaxLifetime,
		ConnMaxLifetimeJitter:   o.ConnMaxLifetimeJitter,
		PipelinePoolSize:        o.PipelinePoolSize,
		PipelineReadBufferSize:  o.PipelineReadBufferSize,
		PipelineWriteBufferSize: o.PipelineWriteBufferSize,
	}
}

// parseURL parses a redis:// or rediss:// url. Its errors never quote
// the url, which may hold a password.
func parseURL(raw string) (*goredis.Options, error) {
	if _, err := url.Parse(raw); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("store.redis: url: %w", err)
	}
	o, err := goredis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("store.redis: url %s: %w", redactURL(raw), err)
	}
	return o, nil
}

// redactURL returns raw with any password replaced by "xxxxx".
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	return u.Redacted()
}

// open sets defaults, connects, checks that Redis answers PING within the
// timeout, and starts the sweep bound to life.
func (s *Store) open(ctx, life context.Context, log *zap.Logger) error {
	if s.URL == "" && len(s.Addrs) == 0 {
		s.URL = DefaultURL
	}
	if s.Prefix == "" {
		s.Prefix = DefaultPrefix
	}
	if err := s.check(); err != nil {
		return err
	}
	if log == nil {
		log = zap.NewNop()
	}
	s.log = log
	s.timeout = s.Timeout.Or(DefaultTimeout)
	s.limits = s.Limits
	s.limits.Defaults()
	s.keys = keys{prefix: s.Prefix}
	s.consumer = consumerName()
	s.drops = make(map[string]int)
	s.stop = make(chan struct{})

	o, err := s.universal()
	if err != nil {
		return err
	}
	s.options(o)
	rdb := goredis.NewUniversalClient(o)
	if err := s.ping(ctx, rdb); err != nil {
		_ = rdb.Close()
		return fmt.Errorf("store.redis: connect to %s: %w", s.target(), err)
	}
	s.closeMu.Lock()
	s.rdb = rdb
	s.closeMu.Unlock()
	libLog.Store(s.log)
	s.log.Info("store opened", zap.Object("redis", s), zap.String("consumer", s.consumer),
		zap.Duration("retention", s.limits.Retention), zap.Int("queue_cap", s.limits.QueueCap))
	s.wg.Go(func() { s.sweepLoop(life) })
	return nil
}

// options bounds every network step by the timeout, unless the url's
// query set it (dial_timeout=, read_timeout=, ...).
func (s *Store) options(o *goredis.UniversalOptions) {
	for _, d := range []*time.Duration{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout} {
		if *d == 0 {
			*d = s.timeout
		}
	}
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true // CLIENT SETINFO: absent before Redis 7.2
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// minVersion is the first Redis with every command the store uses
// (XTRIM MINID, SET PXAT).
const minVersion = "6.2"

// ping checks that Redis answers and is new enough.
func (s *Store) ping(ctx context.Context, rdb goredis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	// Every script is loaded here, on every master of a cluster, so that
	// calls send its SHA; one that a server lost (a restart, a failover)
	// is sent in full again (evalBatch, goredis.Script.Run).
	for _, sc := range scripts {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			return fmt.Errorf("script load: %w", err)
		}
	}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("info server: %w", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		if versionLess(v, minVersion) {
			return fmt.Errorf("redis %s is too old: the store needs %s or later", v, minVersion)
		}
		s.expireLT = !versionLess(v, "7.0")
	}
	return nil
}

// versionLess compares dotted versions numerically, part by part.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// consumerName is hostname-pid-random: unique per process, and readable
// in XINFO CONSUMERS.
func consumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Close stops the sweep, waits for calls in progress and closes the
// connections. Later calls return store.ErrClosed. What is in Redis
// stays; leases this instance holds run out and pass to other instances.
func (s *Store) Close() error {
	s.stopOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
		}
	})
	s.wg.Wait()
	libLog.CompareAndSwap(s.log, nil)
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed || s.rdb == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	if err := s.rdb.Close(); err != nil {
		return fmt.Errorf("store.redis: close %s: %w", s.target(), err)
	}
	return nil
}

// acquire takes the read side of closeMu for one call and returns a
// context bounded by the per-call timeout. It returns store.ErrClosed
// once the store is closed (or was never opened), and ctx's error when it
// is already done. release must be called when err is nil.
func (s *Store) acquire(ctx context.Context) (context.Context, context.CancelFunc, error) {
	s.closeMu.RLock()
	if s.closed || s.rdb == nil {
		s.closeMu.RUnlock()
		return nil, nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		s.closeMu.RUnlock()
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

func (s *Store) release(cancel context.CancelFunc) {
	cancel()
	s.closeMu.RUnlock()
}

// batchKeys bounds the keys of one script call or MGET that spans ids
// (on one server), so that no call holds Redis up for long.
const batchKeys = 256

// keysPerCall is how many ids' keys one script call may touch: batchKeys
// on one server, where a script may touch any keys; one on a cluster,
// where the keys of one call must share a slot, and each id's keys have
// a slot of their own.
func (s *Store) keysPerCall() int {
	if s.mode() == "cluster" {
		return 1
	}
	return batchKeys
}

// keys builds the key names. A client's keys share the hash tag {client},
// so that they sit in one cluster slot and a script may touch them all.
type keys struct{ prefix string }

func (k keys) id(id string) string         { return k.prefix + ":id:" + id }
func (k keys) queue(client string) string  { return k.prefix + ":q:{" + client + "}" }
func (k keys) leases(client string) string { return k.prefix + ":lease:{" + client + "}" }
func (k keys) clients() string             { return k.prefix + ":clients" }

// wake is the one pub/sub channel of wake-up messages (see notify.go).
func (k keys) wake() string { return k.prefix + ":wake" }

// history is the list where earlier versions kept an id's trace; History
// still reads it (history.go), nothing writes it. The id is its hash tag.
func (k keys) history(id string) string { return k.prefix + ":h:{" + id + "}" }

// seen is the key that marks a report stored; it shares the client's hash
// tag, so one script can check it and add to the queue on a cluster.
func (k keys) seen(client, sum string) string { return k.prefix + ":seen:{" + client + "}:" + sum }

var (
	_ store.Store             = (*Store)(nil)
	_ store.IDBatchLookup     = (*Store)(nil)
	_ store.Notifier          = (*Store)(nil)
	_ store.IDExpirer         = (*Store)(nil)
	_ module.Provisioner      = (*Store)(nil)
	_ module.Validator        = (*Store)(nil)
	_ module.CleanerUpper     = (*Store)(nil)
	_ zapcore.ObjectMarshaler = (*Store)(nil)
	_ fmt.Stringer            = (*Store)(nil)
)
