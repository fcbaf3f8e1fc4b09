// Package admin serves smpp-mux's HTTP endpoints on [admin].listen:
// /metrics (Prometheus text format), /healthz (200 while at least one
// upstream session is bound, else 503), /status (JSON: upstream sessions,
// client binds, queues, counters), / (a status page for people),
// POST /reload, GET/PUT /log/level, and, in messages.go, GET
// /messages/{id}, GET /queues/{client} and POST /queues/~orphaned/move.
// It reads from the mux; the only changes it makes go through the
// functions the command hands it, and the mux's MoveOrphans.
//
// Start reading at New; the page is in page.go and page.html.
package admin

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/mux"
)

// Options are what the command hands the admin server besides the mux.
// The zero value serves the read-only endpoints without a token.
type Options struct {
	// Reload re-reads the config file the mux was started with and
	// applies it, the same way as SIGHUP. POST /reload calls it on the
	// request's goroutine. An error that wraps a *mux.ConfigError or an
	// *fs.PathError means the file is invalid or unreadable (400); any
	// other error means the config could not be applied (409). In both
	// cases the running config must be kept. Nil answers 501.
	Reload func() error
	// Level is the process's log level, read and set by GET and PUT
	// /log/level. Nil leaves /log/level out.
	Level *zap.AtomicLevel
	// Token, when not empty, is the bearer token every endpoint but
	// /healthz requires ([admin].token).
	Token string
	// Version is the version the binary was built with, for /status, the
	// page and smppmux_build_info; empty, the module's version from the
	// build information, or "devel".
	Version string
}

// Server is the admin HTTP server of one Mux.
type Server struct {
	m         *mux.Mux
	opts      Options
	tokenHash [sha256.Size]byte // of opts.Token; compared in constant time
	build     buildInfo
	srv       *http.Server
}

// New returns the admin server of m.
func New(m *mux.Mux, o Options) *Server {
	s := &Server{m: m, opts: o, build: readBuild(o.Version)}
	s.tokenHash = sha256.Sum256([]byte(s.opts.Token))
	reg := prometheus.NewRegistry()
	register(reg, m, s.build)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("POST /reload", s.reload)
	mux.HandleFunc("GET /messages/{id}", s.message)
	mux.HandleFunc("GET /queues/{client}", s.queue)
	mux.HandleFunc(moveOrphans, s.move)
	if s.opts.Level != nil {
		mux.Handle("GET /log/level", s.opts.Level)
		mux.Handle("PUT /log/level", jsonBody(s.opts.Level))
	}
	// A web page the operator visits must not be able to POST /reload or
	// PUT /log/level through their browser, cross-site or by rebinding
	// its own name to loopback.
	h := http.NewCrossOriginProtection().Handler(s.loopbackHost(s.authorize(mux)))
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// register registers what /metrics serves: the mux's collector, Go
// runtime and process metrics, and smppmux_build_info.
func register(reg prometheus.Registerer, m *mux.Mux, b buildInfo) {
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "smppmux_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "go_version": b.GoVersion},
	})
	info.Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{m: m}, info)
}

// Serve serves on ln until Shutdown; it returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server, waiting for requests in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// authorize requires the bearer token, when there is one, on every path
// but /healthz, which load balancers probe without credentials.
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || s.tokenOK(r.Header.Get("Authorization")) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="smpp-mux admin"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "a valid Authorization: Bearer token is required"})
	})
}

// tokenOK reports whether the Authorization header carries the token.
// Hashing first makes the comparison take the same time whatever the
// length of the guess.
func (s *Server) tokenOK(header string) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if n := s.m.UpstreamBound(); n > 0 {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	http.Error(w, "no upstream session bound", http.StatusServiceUnavailable)
}

// statusBody is /status: the mux's Status with the build and the
// counters the page turns into rates added beside its fields.
type statusBody struct {
	mux.Status
	Build    buildInfo `json:"build"`
	Counters counters  `json:"counters"`
}

// counters are running totals since start, at one instant.
type counters struct {
	At        int64             `json:"at_ms"`   // when they were read, Unix milliseconds
	Submits   uint64            `json:"submits"` // submit_sm received from clients
	Answers   map[string]uint64 `json:"answers"` // submit_sm_resp sent, by command_status name
	Reports   uint64            `json:"reports"` // receipts stored for clients
	MOs       uint64            `json:"mos"`     // MOs stored for clients
	Delivered uint64            `json:"delivered"`
	// BindsRefused counts client binds refused, by reason; Lockouts the
	// remote addresses locked out after bind_fail_limit failures.
	BindsRefused map[string]uint64 `json:"binds_refused"`
	Lockouts     uint64            `json:"lockouts"`
	// Clients are each configured client's counters, by system_id.
	Clients map[string]clientCounters `json:"clients"`
	// Hosts are each upstream host's answers and round trips.
	Hosts map[string]hostCounters `json:"hosts"`
	// Rules are the rule instances' event counters (plugin calls,
	// errors, restarts).
	Rules []ruleHealth `json:"rules"`
}

// clientCounters are one client's running totals.
type clientCounters struct {
	Submits      uint64            `json:"submits"`       // submit_sm received
	Answers      map[string]uint64 `json:"answers"`       // submit_sm_resp sent, by command_status name
	Errors       uint64            `json:"errors"`        // those of Answers that are not ESME_ROK
	Refused      map[string]uint64 `json:"refused"`       // deliver_sm the client answered with an error, by command_status
	BindsRefused map[string]uint64 `json:"binds_refused"` // its binds refused, by reason
}

// hostCounters are one upstream host's running totals, over its slots.
type hostCounters struct {
	Responses  map[string]uint64 `json:"responses"` // the provider's submit_sm_resp, by command_status name
	RoundTrips uint64            `json:"round_trips"`
	MeanMs     float64           `json:"mean_ms"` // of the round trips since start
	P50Ms      float64           `json:"p50_ms"`  // estimated from the histogram's buckets
	P99Ms      float64           `json:"p99_ms"`
}

// ruleHealth is one rule instance: the rule at position Rule (from 0) of
// Client's rules, of module Module, with its event counters.
type ruleHealth struct {
	Client string            `json:"client"`
	Rule   int               `json:"rule"`
	Module string            `json:"module"`
	Events map[string]uint64 `json:"events"`
}

func (s *Server) snapshot() statusBody {
	n := s.m.Metrics().Snapshot()
	c := counters{
		At: time.Now().UnixMilli(), Submits: n.Submits, Answers: map[string]uint64{},
		Reports: n.Reports, MOs: n.MOs, Delivered: n.Delivered,
		BindsRefused: map[string]uint64{}, Clients: map[string]clientCounters{}, Hosts: map[string]hostCounters{},
		Rules: []ruleHealth{},
	}
	if n.SubmitOK > 0 {
		c.Answers["ESME_ROK"] = n.SubmitOK
	}
	for st, v := range n.ByStatus {
		c.Answers[st.String()] = v
	}
	for r, v := range n.BindsRefused {
		c.BindsRefused[r] = v
	}
	ds := s.m.DownstreamStats()
	c.BindsRefused["locked_out"], c.BindsRefused["malformed"], c.Lockouts = ds.BindsLocked, ds.BindsMalformed, ds.Lockouts
	for id, cc := range s.m.ClientCounters() {
		cl := clientCounters{Submits: cc.Submits, Answers: map[string]uint64{}, Refused: map[string]uint64{}, BindsRefused: cc.BindsRefused}
		for st, v := range cc.ByStatus {
			cl.Answers[st.String()] = v
			if st != 0 {
				cl.Errors += v
			}
		}
		for st, v := range cc.Refused {
			cl.Refused[st.String()] = v
		}
		c.Clients[id] = cl
	}
	for host, h := range upstreamHosts(s.m.UpstreamCounters()) {
		hc := hostCounters{Responses: map[string]uint64{}, RoundTrips: h.counts[len(h.counts)-1]}
		for st, v := range h.responses {
			hc.Responses[st.String()] = v
		}
		if h.other > 0 {
			hc.Responses["other"] = h.other
		}
		if hc.RoundTrips > 0 {
			hc.MeanMs = h.sum * 1000 / float64(hc.RoundTrips)
			hc.P50Ms = quantile(0.5, h.counts) * 1000
			hc.P99Ms = quantile(0.99, h.counts) * 1000
		}
		c.Hosts[host] = hc
	}
	for _, rc := range s.m.RuleCounters() {
		if k := len(c.Rules) - 1; k >= 0 && c.Rules[k].Client == rc.Client && c.Rules[k].Rule == rc.Rule && c.Rules[k].Module == rc.Module {
			c.Rules[k].Events[rc.Event] = rc.Value
			continue
		}
		c.Rules = append(c.Rules, ruleHealth{Client: rc.Client, Rule: rc.Rule, Module: rc.Module, Events: map[string]uint64{rc.Event: rc.Value}})
	}
	b := s.build
	b.Uptime = time.Since(b.Started).Truncate(time.Second).Seconds()
	return statusBody{Status: s.m.Status(), Build: b, Counters: c}
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.snapshot())
}

// errorBody is the JSON of every error answer that is not plain text.
type errorBody struct {
	Error string `json:"error"`
}

func (s *Server) reload(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Reload == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "reload is not available in this process"})
		return
	}
	err := s.opts.Reload()
	var ce *mux.ConfigError
	var pe *fs.PathError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	case errors.As(err, &ce) || errors.As(err, &pe):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
	default:
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error()})
	}
}

// jsonBody reads a body that starts with "{" as JSON whatever its
// Content-Type: `curl -d '{"level":"debug"}'` sends the form type, which
// zap's level handler would read as a form without a level.
func jsonBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br := bufio.NewReader(r.Body)
		if b, err := br.Peek(1); err == nil && b[0] == '{' {
			r.Header.Set("Content-Type", "application/json")
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{br, r.Body}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
