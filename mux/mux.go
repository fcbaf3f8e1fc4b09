package mux

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/downstream"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/upstream"
)

// Mux is the running multiplexer: the downstream server clients bind to,
// the upstream pool to the provider, the store, and the routing between
// them. Create it with New, run it with Start, stop it with Shutdown.
type Mux struct {
	cfg       *Config
	log       *zap.Logger
	orphanLog *zap.Logger // sampled: orphans can come in floods
	badIDLog  *zap.Logger // sampled: a provider's malformed message_ids, one a submit
	mctx      Context     // the store module; lives as long as the mux
	mcancel   context.CancelFunc

	reloadMu    sync.Mutex // one Reload at a time
	rulesMu     sync.Mutex // guards rulesCtx, rulesCancel, rulesGen: the rule modules of the live config
	rulesCtx    Context
	rulesCancel context.CancelFunc
	rulesGen    *ruleGen
	ruleEvents  ruleEvents // counters of rule instances, carried across reloads

	store store.Store
	up    atomic.Pointer[upPool] // the upstream pool, balancer and pacer; replaced by a reload of [upstream]
	down  *downstream.Server
	live  atomic.Pointer[live]

	affinity   affinity
	recent     recentReports
	fair       fairShare
	idFallback idFallback    // ids the store failed to write, until written back
	journal    *idJournal    // the same ids on disk
	wbNow      chan struct{} // cap 1: the store took a write; write the kept ids back now
	wbKept     chan struct{} // cap 1: ids were kept; write them back after the back-off
	idw        *batcher[idJob]
	rw         *batcher[report]
	pair       pairing // the store writes of idw's and rw's batches, paired
	aw         *batcher[ackJob]
	xw         *batcher[string]      // keys of message ids whose final receipt was stored; see expireBatch
	finalTTL   time.Duration         // [store] final_ttl; 0: ids keep dlr_ttl
	tw         *batcher[store.Event] // message traces, when the store keeps them (trace.go)
	refs       deliveredRefs         // receipts sent to clients, for their traces
	metrics    Metrics

	matcher  *matcher   // receipts stored unmatched, moved to their clients once their ids are known
	storeErr *repeatLog // store errors, which repeat per batch while the store is down

	listeners []net.Listener
	stopping  chan struct{} // closed when Shutdown begins
	stopOnce  sync.Once
	// Shutdown runs once; later calls return its result.
	shutdownOnce sync.Once
	shutdownErr  error
	// Background work, in the order Shutdown stops it.
	upCtx, dispatchCtx, workCtx       context.Context
	upCancel, dispatchCancel, workEnd context.CancelFunc
	dispatchWG, workWG, serveWG       sync.WaitGroup
}

// live is what a reload may change: the clients of one config and the
// server settings read per message. It is replaced whole.
type live struct {
	byID       map[string]*client
	moNumbers  map[string]string // normalised number -> system_id
	moDefault  string
	dlrGrace   time.Duration
	submitWait time.Duration
}

// New provisions the config's modules and builds the mux; nothing listens
// or connects until Start. On error everything provisioned is cleaned up.
func New(cfg *Config, log *zap.Logger) (_ *Mux, err error) {
	if log == nil {
		log = zap.NewNop()
	}
	mctx, cancel := NewContext(context.Background(), log)
	m := &Mux{cfg: cfg, log: log, mctx: mctx, mcancel: cancel, stopping: make(chan struct{}),
		wbNow: make(chan struct{}, 1), wbKept: make(chan struct{}, 1)}
	m.matcher = newMatcher(m)
	m.storeErr = newRepeatLog(log, 10*time.Second)
	// m, not the result, is cleaned up: the error returns set the result
	// to nil before a deferred call runs.
	defer func() {
		if err != nil {
			if m.journal != nil {
				m.journal.close() // its lock
			}
			if cerr := m.cleanupModules(); cerr != nil {
				log.Warn("cleanup after a failed start", zap.Error(cerr))
			}
		}
	}()
	m.orphanLog = log.WithOptions(zap.WrapCore(sampled))
	m.badIDLog = log.WithOptions(zap.WrapCore(sampled))
	if err := m.provision(); err != nil {
		return nil, err
	}
	m.journal = newJournal(journalPath(cfg.Store, m.store), cfg.Store.JournalMaxMB)
	if err := m.replayJournal(); err != nil {
		return nil, err
	}
	up, err := m.newUpPool(cfg)
	if err != nil {
		return nil, err
	}
	m.up.Store(up)
	m.down = downstream.NewServer(downstreamConfig(cfg, log), m)
	m.idw = newBatcher(4096, 512, m.idBatch)
	m.rw = newBatcher(4096, 512, m.reportBatch)
	m.aw = newBatcher(4096, 512, m.ackBatch)
	m.xw = newBatcher(4096, 512, m.expireBatch).lingering(offPathLinger)
	if _, ok := m.store.(store.IDExpirer); ok {
		if ft := cfg.Store.FinalTTL.Or(time.Hour); ft < cfg.Store.DLRTTL.Or(72*time.Hour) {
			m.finalTTL = ft
		}
	}
	if _, ok := m.store.(store.History); ok && cfg.Store.Tracing() {
		m.tw = newBatcher(traceQueue, 512, m.traceBatch).lingering(offPathLinger)
	}
	return m, nil
}

// provision loads the store and every client's rules.
func (m *Mux) provision() error {
	sc := m.cfg.Store
	if sc.Module == nil {
		return fmt.Errorf("store: no module")
	}
	if err := m.mctx.LoadModule("store."+sc.Name, sc.Module); err != nil {
		return err
	}
	st, ok := sc.Module.(store.Store)
	if !ok {
		return fmt.Errorf("store.%s: module is not a store", sc.Name)
	}
	m.store = st
	rctx, rcancel, err := provisionRules(m.cfg, m.log, &m.ruleEvents)
	if err != nil {
		return err
	}
	m.rulesCtx, m.rulesCancel, m.rulesGen = rctx, rcancel, &ruleGen{}
	lv := newLive(m.cfg)
	for _, cc := range m.cfg.Clients {
		lv.byID[cc.SystemID] = newClient(cc, m.rulesGen)
	}
	m.live.Store(lv)
	return nil
}

func upstreamConfig(cfg *Config, log *zap.Logger) (upstream.Config, error) {
	u := cfg.Upstream
	bind := map[string]pdu.CommandID{"transceiver": pdu.CmdBindTransceiver, "transmitter": pdu.CmdBindTransmitter, "receiver": pdu.CmdBindReceiver}[u.Bind]
	uc := upstream.Config{
		SystemID: u.SystemID, Password: u.Password, SystemType: u.SystemType, Bind: bind,
		SessionsPerHost: u.SessionsPerHost, Window: u.Window,
		EnquireLink: u.EnquireLink.Std(), ReconnectDelay: u.ReconnectDelay.Std(), ResponseTimeout: u.ResponseTimeout.Std(),
		Logger: log.Named("upstream"),
	}
	for i, h := range u.Hosts {
		host := upstream.Host{Address: h.Address, TLS: h.TLS}
		if h.TLS && (h.CA != "" || h.ServerName != "") {
			tc := &tls.Config{ServerName: h.ServerName, MinVersion: tls.VersionTLS12}
			if h.CA != "" {
				pem, err := os.ReadFile(h.CA)
				if err != nil {
					return uc, fmt.Errorf("upstream.host[%d].ca: %w", i, err)
				}
				tc.RootCAs = x509.NewCertPool()
				if !tc.RootCAs.AppendCertsFromPEM(pem) {
					return uc, fmt.Errorf("upstream.host[%d].ca: no PEM certificate in %s", i, h.CA)
				}
			}
			host.TLSConfig = tc
		}
		uc.Hosts = append(uc.Hosts, host)
	}
	return uc, nil
}

func downstreamConfig(cfg *Config, log *zap.Logger) downstream.Config {
	s := cfg.Server
	return downstream.Config{
		BindTimeout: s.BindTimeout.Std(), MaxConnections: s.MaxConnections,
		MaxPerIP: s.MaxPerIP, MaxUnbound: s.MaxUnbound, MaxUnboundPerIP: s.MaxUnboundPerIP, MaxQueued: s.MaxQueued,
		BindFailLimit: s.BindFailLimit, BindLockout: s.BindLockout.Std(),
		EnquireLink: s.EnquireLink.Std(), ResponseTimeout: s.ResponseTimeout.Std(),
		Window: s.Window, Logger: log.Named("downstream"),
	}
}

// Start listens on [server].listen (and tls_listen), connects upstream and
// starts delivering queued reports. It returns once the listeners are open.
func (m *Mux) Start() error {
	if err := m.listen(); err != nil {
		return err
	}
	base := context.Background()
	m.upCtx, m.upCancel = context.WithCancel(base)
	m.dispatchCtx, m.dispatchCancel = context.WithCancel(base)
	m.workCtx, m.workEnd = context.WithCancel(base)
	m.up.Load().pool.Start(m.upCtx)
	m.workWG.Go(func() { m.idw.run(m.workCtx) })
	m.workWG.Go(func() { m.rw.run(m.workCtx) })
	m.workWG.Go(func() { m.xw.run(m.workCtx) })
	m.workWG.Go(func() { m.matcher.run(m.workCtx) })
	if m.tw != nil {
		m.workWG.Go(func() { m.tw.run(m.workCtx) })
	}
	m.workWG.Go(func() { m.writeBackLoop(m.workCtx) })
	m.dispatchWG.Go(func() { m.aw.run(m.dispatchCtx) })
	for _, c := range m.live.Load().byID {
		m.startDispatch(c)
	}
	if n, ok := m.store.(store.Notifier); ok {
		m.dispatchWG.Go(func() { m.wakeups(m.dispatchCtx, n) })
	}
	for _, ln := range m.listeners {
		m.serveWG.Go(func() { _ = m.down.Serve(ln) })
	}
	return nil
}

func (m *Mux) listen() error {
	s := m.cfg.Server
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	plain := m.proxied(ln)
	m.listeners = append(m.listeners, plain)
	if s.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			plain.Close()
			return fmt.Errorf("server.tls_cert: %w", err)
		}
		tcp, err := net.Listen("tcp", s.TLSListen)
		if err != nil {
			plain.Close()
			return fmt.Errorf("server.tls_listen: %w", err)
		}
		// The PROXY header comes before the TLS handshake.
		tln := tls.NewListener(m.proxied(tcp), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		m.listeners = append(m.listeners, tln)
	}
	return nil
}

// proxied wraps ln to honour PROXY protocol headers from
// server.trusted_proxies, when there are any.
func (m *Mux) proxied(ln net.Listener) net.Listener {
	s := m.cfg.Server
	if len(s.trustedProxies) == 0 {
		return ln
	}
	return downstream.ProxyListener(ln, s.trustedProxies, s.BindTimeout.Or(10*time.Second))
}

// Addrs returns the addresses the downstream listeners are bound to.
func (m *Mux) Addrs() []net.Addr {
	out := make([]net.Addr, len(m.listeners))
	for i, ln := range m.listeners {
		out[i] = ln.Addr()
	}
	return out
}

// Shutdown stops the mux gracefully: it stops accepting connections,
// waits for the provider's answers to submits in flight and passes them
// on, unbinds upstream, unbinds the clients, and closes the store. When ctx
// ends first, what is left is closed at once; clients still waiting get a
// temporary status where a connection remains to send it on.
func (m *Mux) Shutdown(ctx context.Context) error {
	m.shutdownOnce.Do(func() { m.shutdownErr = m.shutdown(ctx) })
	return m.shutdownErr
}

func (m *Mux) shutdown(ctx context.Context) error {
	var errs []error
	m.stopOnce.Do(func() { close(m.stopping) })
	m.reloadMu.Lock() // a reload in progress gives up; none starts
	defer m.reloadMu.Unlock()
	if m.upCancel == nil { // never started
		for _, ln := range m.listeners {
			_ = ln.Close()
		}
		_ = m.up.Load().pool.Close()
		m.journal.close()
		return m.cleanupModules()
	}
	for _, ln := range m.listeners {
		_ = ln.Close()
	}
	if err := m.up.Load().pool.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("upstream: %w", err))
	}
	m.upCancel()
	m.workEnd() // batchers drain: pending ids stored, resps sent
	m.workWG.Wait()
	m.finalWriteBack(ctx)
	m.journal.close()
	if err := m.down.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("downstream: %w", err))
	}
	m.serveWG.Wait()
	m.dispatchCancel()
	m.dispatchWG.Wait()
	if err := m.cleanupModules(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// UpstreamBound returns how many upstream sessions are bound now.
func (m *Mux) UpstreamBound() int { return m.up.Load().pool.Bound() }

// Queued returns how many reports and MOs wait in the store for client.
func (m *Mux) Queued(client string) int {
	st, err := m.store.Stats(context.Background())
	if err != nil {
		return 0
	}
	return st.Queued[client]
}

// Status is a read-only view of the running mux, for /status.
type Status struct {
	Upstream   []UpstreamStatus   `json:"upstream"`
	Downstream []DownstreamStatus `json:"downstream"`
	Queued     map[string]int     `json:"queued"`
	Held       int                `json:"held_reports"`
	PendingIDs int                `json:"pending_ids"` // message ids kept in memory and the journal until the store takes them
}

// UpstreamStatus is one upstream session slot.
type UpstreamStatus struct {
	Host    string    `json:"host"`
	Session int       `json:"session"`
	State   string    `json:"state"`
	Since   time.Time `json:"since,omitzero"` // when State began
	Pending int       `json:"pending"`
	// LastError is why the slot's last connection, or attempt to
	// connect, ended, at LastErrorAt; it stays after the slot binds
	// again. LastErrorKind is bind_refused (LastErrorStatus is the
	// provider's command_status), connect_failed, dropped or unbound
	// (upstream.FailureKind).
	LastError       string    `json:"last_error,omitempty"`
	LastErrorKind   string    `json:"last_error_kind,omitempty"`
	LastErrorStatus string    `json:"last_error_status,omitempty"`
	LastErrorAt     time.Time `json:"last_error_at,omitzero"`
	Binds           uint64    `json:"binds"`      // connections that bound
	Reconnects      uint64    `json:"reconnects"` // Binds after the first
}

// DownstreamStatus is one bound client session.
type DownstreamStatus struct {
	Session  uint64 `json:"session"`
	SystemID string `json:"system_id"`
	BindType string `json:"bind_type"`
	Remote   string `json:"remote"`
	Inflight int64  `json:"inflight"`
}

// Status returns a snapshot for /status.
func (m *Mux) Status() Status {
	var st Status
	for _, s := range m.up.Load().pool.Sessions() {
		st.Upstream = append(st.Upstream, upstreamStatus(s))
	}
	for _, c := range m.live.Load().byID {
		c.mu.Lock()
		for _, b := range c.sessions {
			st.Downstream = append(st.Downstream, DownstreamStatus{
				Session: b.s.ID(), SystemID: c.id, BindType: b.s.Type().String(),
				Remote: b.s.RemoteAddr().String(), Inflight: b.inflight.Load(),
			})
		}
		c.mu.Unlock()
	}
	if ss, err := m.store.Stats(context.Background()); err == nil {
		st.Queued = ss.Queued
	}
	st.Held = m.matcher.held()
	st.PendingIDs = m.idFallback.size()
	return st
}

func upstreamStatus(s *upstream.Session) UpstreamStatus {
	u := UpstreamStatus{Host: s.Host(), Session: s.Index(), State: s.State().String(), Since: s.Since(), Pending: s.Pending()}
	if f := s.LastFailure(); f.Err != nil {
		u.LastError, u.LastErrorKind, u.LastErrorAt = f.Err.Error(), upstream.FailureKind(f.Err), f.At
		var be *upstream.BindError
		if errors.As(f.Err, &be) {
			u.LastErrorStatus = be.Status.String()
		}
	}
	u.Binds = s.Stats().Binds
	u.Reconnects = max(u.Binds, 1) - 1
	return u
}

// DownstreamStats returns the downstream server's connection counts.
func (m *Mux) DownstreamStats() downstream.Stats { return m.down.Stats() }

// Metrics returns the mux's counters.
func (m *Mux) Metrics() *Metrics { return &m.metrics }

// newLive builds the reloadable view of cfg, without clients.
func newLive(cfg *Config) *live {
	lv := &live{
		byID: map[string]*client{}, moNumbers: map[string]string{},
		moDefault:  cfg.Server.MODefault,
		dlrGrace:   cfg.Server.DLRGrace.Or(10 * time.Second),
		submitWait: cfg.Server.SubmitWait.Or(5 * time.Second),
	}
	for _, cc := range cfg.Clients {
		for _, n := range cc.MONumbers {
			lv.moNumbers[NormalizeNumber(n)] = cc.SystemID
		}
	}
	return lv
}

// startDispatch starts the dispatcher of a client.
func (m *Mux) startDispatch(c *client) {
	ctx, cancel := context.WithCancel(m.dispatchCtx)
	c.stop = cancel
	m.dispatchWG.Go(func() { m.dispatch(ctx, c) })
}

// provisionRules provisions and validates every client's rules of cfg in
// a Context of their own, which the caller cleans up when the config is
// replaced. The rules' event counters are kept in events. On error what
// was provisioned is cleaned up.
func provisionRules(cfg *Config, log *zap.Logger, events *ruleEvents) (Context, context.CancelFunc, error) {
	ctx, cancel := NewContext(context.Background(), log)
	for _, cc := range cfg.Clients {
		for i, r := range cc.Rules {
			id := r.MuxModule().ID
			err := fmt.Errorf("client %q rule[%d]: module %s is not a rule", cc.SystemID, i, id)
			if _, ok := r.(Rule); ok {
				err = ctx.withRule(events, cc.SystemID, i).LoadModule(id, r)
				if err != nil {
					err = fmt.Errorf("client %q rule[%d]: %w", cc.SystemID, i, err)
				}
			}
			if err != nil {
				cancel()
				_ = ctx.Cleanup()
				return ctx, nil, err
			}
		}
	}
	return ctx, cancel, nil
}

// cleanupModules stops and cleans up the rules, then the store.
func (m *Mux) cleanupModules() error {
	var errs []error
	m.rulesMu.Lock()
	if m.rulesCancel != nil {
		m.rulesGen.retire()
		m.rulesCancel()
		errs = append(errs, m.rulesCtx.Cleanup())
		m.rulesCancel = nil
	}
	m.rulesMu.Unlock()
	m.mcancel()
	errs = append(errs, m.mctx.Cleanup())
	return errors.Join(errs...)
}
