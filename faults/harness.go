package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/freeport"
	"github.com/smpp-mux/smpp-mux/sim"
)

// TB is what the harness needs from a test; testing.TB has it, and the
// soak command has its own.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Build compiles a package of this module into dir and returns the
// binary's path.
func Build(dir, pkg, name string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// FreeAddr returns a 127.0.0.1 address with a port free just now, below
// the ephemeral range (see internal/freeport).
func FreeAddr(t TB) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// RaiseNoFile sets RLIMIT_NOFILE's soft limit to its hard limit for this
// process; children started afterwards inherit it.
func RaiseNoFile() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

// Sim is the provider simulator, in-process, on two hosts (a and b).
type Sim struct {
	*sim.Server
	Hosts []string

	wg sync.WaitGroup // one per Serve
}

// SimConfig is the provider the suite runs against: one account, receipts
// 200ms after the response, deliver_sm resent after 3s unanswered.
func SimConfig() sim.Config {
	return sim.Config{
		Accounts:       map[string]string{"acct": "secret"},
		RespLatency:    20 * time.Millisecond,
		DLRDelay:       200 * time.Millisecond,
		DeliverTimeout: 3 * time.Second,
		Tick:           200 * time.Millisecond,
		Record:         -1,
	}
}

// StartSim starts the simulator on two hosts; t.Cleanup closes it and
// waits for its goroutines.
func StartSim(t TB, cfg sim.Config) *Sim {
	t.Helper()
	s := &Sim{Server: sim.New(cfg)}
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("sim listen: %v", err)
		}
		s.Hosts = append(s.Hosts, ln.Addr().String())
		s.serve(ln)
	}
	t.Cleanup(func() {
		_ = s.Close()
		s.wg.Wait()
	})
	return s
}

func (s *Sim) serve(ln net.Listener) {
	s.wg.Go(func() { _ = s.Serve(ln) })
}

// StartHost brings a stopped host back on its address.
func (s *Sim) StartHost(addr string) error {
	var err error
	for range 50 { // the old socket may linger a moment
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			s.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// MuxOptions change the mux config the suite writes.
type MuxOptions struct {
	Store   string   // TOML of [store] body; default bolt in a temp dir
	Rule    string   // TOML appended to every [[client]] (e.g. a plugin rule)
	Tenants []string // system_ids; password "pw" each
	Level   string   // log level; default info
	// Server overrides or adds [server] keys: key -> TOML value, as
	// "max_unbound" -> "100" or "dlr_grace" -> `"10s"`.
	Server map[string]string
	// PasswordHash, when set, is every tenant's password_hash (a bcrypt
	// hash of "pw") instead of the plain password.
	PasswordHash string
	// Journal, when set, is the [store] journal path (instances sharing a
	// store each need their own).
	Journal string
}

// serverDefaults are the [server] keys the suite writes, in order. Every
// client of the suite comes from 127.0.0.1, hence the per-address limits
// as high as the totals (faults that test them set their own).
var serverDefaults = [][2]string{
	{"mo_default", `""`},
	{"bind_timeout", `"5s"`},
	{"max_connections", "10000"},
	{"max_connections_per_ip", "5000"},
	{"max_unbound", "5000"},
	{"max_unbound_per_ip", "5000"},
	{"enquire_link", `"10s"`},
	{"response_timeout", `"3s"`},
	{"window", "10"},
	{"submit_wait", `"2s"`},
	{"dlr_grace", `"3s"`},
}

// Mux is the smpp-mux subprocess: started, killed -9, stopped with
// SIGTERM and started again on the same config.
type Mux struct {
	t      TB
	bin    string
	Config string // path
	Addr   string // downstream SMPP
	Admin  string // admin HTTP
	Log    string // stderr of every run, appended

	mu   sync.Mutex // guards cmd, done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	code int
}

// Config writes a mux config in front of hosts and returns its path and
// the listen and admin addresses.
func Config(t TB, hosts []string, o MuxOptions) (path, addr, admin string) {
	t.Helper()
	dir := t.TempDir()
	addr, admin = FreeAddr(t), FreeAddr(t)
	if o.Store == "" {
		o.Store = fmt.Sprintf("module = \"bolt\"\npath = %q\n", filepath.Join(dir, "mux.db"))
	}
	if o.Level == "" {
		o.Level = "info"
	}
	if o.Journal != "" {
		o.Store = strings.TrimRight(o.Store, "\n") + fmt.Sprintf("\njournal = %q\n", o.Journal)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = %q\n", addr)
	set := map[string]bool{}
	for _, kv := range serverDefaults {
		v := kv[1]
		if ov, ok := o.Server[kv[0]]; ok {
			v = ov
		}
		set[kv[0]] = true
		fmt.Fprintf(&b, "%s = %s\n", kv[0], v)
	}
	extra := make([]string, 0, len(o.Server))
	for k := range o.Server {
		if !set[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		fmt.Fprintf(&b, "%s = %s\n", k, o.Server[k])
	}
	fmt.Fprintf(&b, `[admin]
listen = %q
[log]
level = %q
format = "console"
[store]
%s
[upstream]
system_id = "acct"
password = "secret"
bind = "transceiver"
sessions_per_host = 2
window = 50
enquire_link = "5s"
reconnect_delay = "1s"
response_timeout = "5s"
`, admin, o.Level, o.Store)
	for _, h := range hosts {
		fmt.Fprintf(&b, "[[upstream.host]]\naddress = %q\n", h)
	}
	pw := `password = "pw"`
	if o.PasswordHash != "" {
		pw = fmt.Sprintf("password_hash = %q", o.PasswordHash)
	}
	for _, id := range o.Tenants {
		fmt.Fprintf(&b, "[[client]]\nsystem_id = %q\n%s\nmax_binds = 5000\n%s\n", id, pw, o.Rule)
	}
	path = filepath.Join(dir, "smpp-mux.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return path, addr, admin
}

// NewMux returns the mux of a config; Start runs it. t.Cleanup kills a
// mux still running and waits for it.
func NewMux(t TB, bin, config, addr, admin string) *Mux {
	m := &Mux{t: t, bin: bin, Config: config, Addr: addr, Admin: admin, Log: filepath.Join(t.TempDir(), "mux.log")}
	t.Cleanup(m.stop)
	return m
}

// stop ends a mux still running, gracefully if it can, and kills what it
// started (plugins) that outlived it.
func (m *Mux) stop() {
	kids := m.Children()
	if m.Pid() != 0 {
		if _, err := m.Term(10 * time.Second); err != nil {
			m.t.Logf("stop mux: %v", err)
		}
	}
	for _, p := range kids {
		_ = syscall.Kill(p, syscall.SIGKILL) // an orphan now, if it still runs
	}
}

// Start runs the mux and waits (bounded) until it listens and has an
// upstream session bound.
func (m *Mux) Start() error {
	lf, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.bin, "run", "--config", m.Config)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = filepath.Dir(m.Config)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	done := make(chan struct{})
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	go func() {
		err := cmd.Wait()
		lf.Close()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		m.mu.Lock()
		m.code = code
		m.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("mux exited at start; log:\n%s", m.Tail(3000))
		default:
		}
		if m.healthy() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mux not ready within 15s; log:\n%s", m.Tail(3000))
		}
		time.Sleep(50 * time.Millisecond) // polling a starting subprocess
	}
}

func (m *Mux) healthy() bool {
	c, err := net.DialTimeout("tcp", m.Addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	resp, err := httpGet("http://"+m.Admin+"/healthz", time.Second)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Pid returns the running mux's pid, or 0.
func (m *Mux) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil || isClosed(m.done) {
		return 0
	}
	return m.cmd.Process.Pid
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process; a no-op when not running.
func (m *Mux) Kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil || isClosed(done) {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Term sends SIGTERM and waits up to d for the exit; it returns the exit
// code, or an error when the mux did not exit in time (it is then killed).
func (m *Mux) Term(d time.Duration) (int, error) {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil || isClosed(done) {
		return 0, errors.New("mux not running")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(d):
		m.Kill()
		return -1, fmt.Errorf("mux did not exit within %v of SIGTERM", d)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.code, nil
}

// Exited reports whether the mux process has ended.
func (m *Mux) Exited() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done != nil && isClosed(m.done)
}

// Tail returns the last n bytes of the mux's log.
func (m *Mux) Tail(n int) string {
	b, _ := os.ReadFile(m.Log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Grep counts the log lines that contain s.
func (m *Mux) Grep(s string) int {
	b, _ := os.ReadFile(m.Log)
	return strings.Count(string(b), s)
}

// FDs returns the number of open descriptors of the mux, or -1.
func (m *Mux) FDs() int {
	pid := m.Pid()
	if pid == 0 {
		return -1
	}
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

// RSSKiB returns VmRSS of the mux in KiB, or -1.
func (m *Mux) RSSKiB() int {
	pid := m.Pid()
	if pid == 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}

// Metric returns the value of a Prometheus sample line that starts with
// name (with its labels, if any), or -1.
func (m *Mux) Metric(name string) float64 {
	resp, err := httpGet("http://"+m.Admin+"/metrics", 2*time.Second)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(name):]), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// httpGet GETs url without keeping the connection, so that no idle
// connection (and its goroutines) outlives the call.
func httpGet(url string, timeout time.Duration) (*http.Response, error) {
	cl := http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	return cl.Get(url)
}

// HTTPGet is httpGet for the suite and the soak command.
func HTTPGet(url string, timeout time.Duration) (*http.Response, error) { return httpGet(url, timeout) }

// Children returns the pids of the mux's child processes (plugins).
func (m *Mux) Children() []int {
	pid := m.Pid()
	if pid == 0 {
		return nil
	}
	var out []int
	es, _ := os.ReadDir("/proc")
	for _, e := range es {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 {
			if pp, _ := strconv.Atoi(f[1]); pp == pid {
				out = append(out, n)
			}
		}
	}
	return out
}

// Load is a set of steady clients, one per tenant, run until Stop.
type Load struct {
	Clients []*Client
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartLoad runs one steady client per tenant at rate submits/s each;
// t.Cleanup stops them.
func StartLoad(t TB, l *Ledger, addr string, tenants []string, rate float64) *Load {
	return StartFleetLoad(t, l, []string{addr}, tenants, 1, rate)
}

// StartFleetLoad runs per steady clients per tenant at rate submits/s
// each against the mux instances at addrs, round-robin: the k-th client
// (each tenant's clients one after the other, tenants in order) binds to
// addrs[k mod len(addrs)], so that a tenant's sessions are on different
// instances. With several instances each client's Via is the index of
// its instance. t.Cleanup stops them.
func StartFleetLoad(t TB, l *Ledger, addrs, tenants []string, per int, rate float64) *Load {
	ld := &Load{}
	k := 0
	for _, id := range tenants {
		for range per {
			c := &Client{L: l, Addr: addrs[k%len(addrs)], SystemID: id, Password: "pw", Rate: rate, Steady: true}
			if len(addrs) > 1 {
				c.Via = strconv.Itoa(k % len(addrs))
			}
			ld.Clients = append(ld.Clients, c)
			k++
		}
	}
	ld.ctx, ld.cancel = context.WithCancel(context.Background())
	for _, c := range ld.Clients {
		ld.Add(c)
	}
	t.Cleanup(ld.Stop)
	return ld
}

// Add runs one more client under the load's lifetime.
func (ld *Load) Add(c *Client) { ld.wg.Go(func() { c.Run(ld.ctx) }) }

// Pause stops (or resumes) new submits on every client.
func (ld *Load) Pause(on bool) {
	for _, c := range ld.Clients {
		c.Pause(on)
	}
}

// Stop ends every client and waits for them.
func (ld *Load) Stop() {
	ld.cancel()
	ld.wg.Wait()
}
