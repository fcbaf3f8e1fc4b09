package faults

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
)

var fullFlag = flag.Bool("full", false, "full-length fault figures (also FAULTS_FULL=1); writes RESULTS.md")

// setting is the length and load of a run: short for CI, full for the
// figures.
type setting struct {
	name     string
	rate     float64       // submits/s per steady client (4 of them)
	warm     time.Duration // after every client bound, before the baseline
	base     time.Duration // baseline window just before the fault
	fault    time.Duration // how long a fault with a duration lasts
	bound    time.Duration // recovery bound for most faults
	restart  time.Duration // recovery bound after a mux restart
	drain    time.Duration // bound on the wait for the last receipts
	crowd    int           // clients binding at once
	garbage  int           // garbage connections per second
	garbageD time.Duration // for this long
	disrupt  time.Duration // how long the disconnecting client leaves deliver_sm unanswered
	unknown  int           // receipts with ids nobody knows, injected at once
	outage   time.Duration // how long Redis is out of reach in the fleet faults (18, 19)
}

func currentSetting() setting {
	if *fullFlag || os.Getenv("FAULTS_FULL") == "1" {
		return setting{name: "full", rate: 100, warm: 2 * time.Second, base: 10 * time.Second, fault: 10 * time.Second,
			bound: 20 * time.Second, restart: 30 * time.Second, drain: 60 * time.Second,
			crowd: 1000, garbage: 1000, garbageD: 10 * time.Second, disrupt: 2 * time.Second,
			unknown: 20000, // the simulator keeps 25,000 waiting
			outage:  10 * time.Second}
	}
	return setting{name: "short", rate: 50, warm: time.Second, base: 2 * time.Second, fault: 2 * time.Second,
		bound: 10 * time.Second, restart: 15 * time.Second, drain: 20 * time.Second,
		crowd: 200, garbage: 300, garbageD: time.Second, disrupt: 500 * time.Millisecond,
		unknown: 5000, outage: 5 * time.Second}
}

var steadyTenants = []string{"t0", "t1", "t2", "t3"}

var (
	binDir    string
	muxBin    string
	pluginBin string

	resultsMu sync.Mutex
	results   []Result
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		var err error
		if binDir, err = os.MkdirTemp("", "faults-bin-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(binDir)
		if muxBin, err = Build(binDir, "github.com/smpp-mux/smpp-mux/cmd/smpp-mux", "smpp-mux"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if pluginBin, err = Build(binDir, "github.com/smpp-mux/smpp-mux/plugins/examples/premium-class", "premium-class"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// Fault 8 binds up to 1,000 clients: the mux (a child) inherits this.
		if _, err := RaiseNoFile(); err != nil {
			fmt.Fprintln(os.Stderr, "raise RLIMIT_NOFILE:", err)
		}
		code := m.Run()
		report()
		// No goroutine of the suite may outlive its tests (the mux and
		// the plugins are processes, stopped by each test's cleanup).
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
			if code == 0 {
				code = 1
			}
		}
		return code
	}()
	os.Exit(code)
}

// report prints the table and, for -full or FAULTS_RESULTS=1, writes it
// to RESULTS.md under the setting's heading.
func report() {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		return
	}
	s := currentSetting()
	head := fmt.Sprintf("## %s setting\n\nRun %s on %s/%s, %d CPUs, %s; race detector: %v. "+
		"Load: 4 steady transceivers at %.0f submits/s each, registered_delivery=1, simulator receipts 200ms after the response.\n\n",
		s.name, time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), raceEnabled, s.rate)
	table := Markdown(results)
	fmt.Println()
	fmt.Println(head + table)
	if s.name == "full" || os.Getenv("FAULTS_RESULTS") == "1" {
		if err := MergeSection("RESULTS.md", s.name, head, results); err != nil {
			fmt.Fprintln(os.Stderr, "write RESULTS.md:", err)
		}
	}
}

// env is one fault run: a simulator, the mux, the steady load and the
// ledger, plus what the fault's functions add.
type env struct {
	t      *testing.T
	s      setting
	spec   faultSpec
	sim    *Sim
	mux    *Mux   // the first instance (the only one but in fleet faults)
	muxes  []*Mux // every instance, on one store and one provider account
	L      *Ledger
	load   *Load
	others []*Client // fault-specific clients (not steady)

	simCfg     sim.Config // what the simulator runs with
	start, end time.Time  // the fault's window
	checks     []Check
	extra      []string

	acked0  sim.Stats // the simulator's counters when receipts were injected
	resent0 float64   // the mux's smppmux_reports_resent_total then

	fleet0 map[string][]float64 // the instances' counters when the fault began (fleetMetrics)
}

func (e *env) check(name string, ok bool, format string, args ...any) {
	e.checks = append(e.checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

func (e *env) note(format string, args ...any) {
	e.extra = append(e.extra, fmt.Sprintf(format, args...))
}

// faultSpec is one fault: how to set up, inject and judge it.
type faultSpec struct {
	name    string
	simCfg  func(c *sim.Config)         // before the simulator starts
	muxOpts func(e *env, o *MuxOptions) // before the mux starts
	before  func(e *env)                // after the load runs, before the baseline
	inject  func(e *env)                // must set e.start and e.end
	after   func(e *env)                // after the drain: extra checks
	killed  bool                        // submits lost to kill -9 and duplicate receipts are documented
	// storeDown: the store is out of reach for every instance; duplicate
	// receipts are documented (at least once): a client's acknowledgement
	// the store cannot take before the entry's lease (2 x response_timeout)
	// runs out lets the entry be delivered again.
	storeDown bool
	// storeCut: the store is out of reach for one instance; its
	// acknowledgements are as storeDown's.
	storeCut bool
	restart  bool // recovery bound: a mux restart's
	others   bool // the steady clients must be untouched while the fault lasts
	noRecov  bool // no throughput dip expected; recovery is still measured
	muxDown  bool // the mux is expected to have exited (never)
	// instances is how many mux processes run, on one store and one
	// provider account (a fleet); 0 is 1. See startFleet.
	instances int
	instOpts  func(e *env, i int, o *MuxOptions) // per instance, after muxOpts
}

func TestFaults(t *testing.T) {
	for _, f := range faultList() {
		t.Run(f.name, func(t *testing.T) { runFault(t, f) })
	}
}

func runFault(t *testing.T, f faultSpec) {
	s := currentSetting()
	e := &env{t: t, s: s, spec: f}
	simCfg := SimConfig()
	if f.simCfg != nil {
		f.simCfg(&simCfg)
	}
	e.simCfg = simCfg
	e.sim = StartSim(t, simCfg)
	opts := MuxOptions{Tenants: append(append([]string(nil), steadyTenants...), "slow", "flaky", "crowd")}
	if f.muxOpts != nil {
		f.muxOpts(e, &opts)
	}
	e.startFleet(opts, max(1, f.instances))
	e.L = NewLedger(2 * time.Hour)
	if len(e.muxes) == 1 {
		e.load = StartLoad(t, e.L, e.mux.Addr, steadyTenants, s.rate)
	} else {
		addrs := make([]string, len(e.muxes))
		for i, m := range e.muxes {
			addrs[i] = m.Addr
		}
		e.load = StartFleetLoad(t, e.L, addrs, steadyTenants, fleetPerTenant, s.rate)
	}
	if f.before != nil {
		f.before(e)
	}
	all := append(append([]*Client(nil), e.load.Clients...), e.others...)
	eventually.That(t, 10*time.Second, "every client bound", func() bool {
		for _, c := range all {
			if !c.Connected() {
				return false
			}
		}
		return true
	})
	time.Sleep(s.warm + s.base)
	now := time.Now()
	baseline := e.L.Rate(now.Add(-s.base), now)

	f.inject(e)
	during := -1.0
	if e.end.Sub(e.start) >= 500*time.Millisecond {
		during = e.L.Rate(e.start, e.end)
	}
	bound := s.bound
	if f.restart {
		bound = s.restart
	}
	var rec time.Duration
	var recovered bool
	// The waits of a fault are polled here, not with eventually: what
	// they find when they end is a row of the fault's result (e.check,
	// e.note), and the run goes on to the next check either way.
	for {
		if rec, recovered = e.L.Recovered(e.end, baseline, 0.8); recovered || time.Since(e.end) > bound+time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a little more load after recovery

	// Drain: no new submits, every answer, every receipt.
	for _, c := range all {
		c.Pause(true)
	}
	if err := WaitAnswered(all, 20*time.Second); err != nil {
		e.note("drain: %v", err)
	}
	deadline := time.Now().Add(s.drain) // polled, not eventually: "no DLR lost" below is the row
	for e.L.Counts().DLRLost > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a duplicate would arrive now
	c := e.L.Counts()
	ss := e.sim.Stats()
	e.note("provider: %d receipts sent (resends included), %d acked, %d resent", ss.DLRsSent, ss.DLRsAcked, ss.Resent)

	e.check("every submit answered", c.Unanswered == 0, "%d unanswered", c.Unanswered)
	if f.killed {
		e.check("only kill -9 loses answers", true, "%d lost to kill -9 (documented)", c.LostToKill)
	} else {
		e.check("no submit lost to a kill", c.LostToKill == 0, "%d", c.LostToKill)
	}
	e.check("no DLR lost", c.DLRLost == 0, "%d of %d lost", c.DLRLost, c.DLRExpected)
	switch {
	case f.killed:
		e.check("DLR duplicates documented", true, "%d (allowed: kill -9)", c.DLRDup)
	case f.storeDown || f.storeCut:
		// Allowed: a client's acknowledgement the store could not take
		// before the entry's lease ran out. Such a copy comes a lease
		// after the fetch, and the first copy at most half a lease after
		// it (the dispatcher's slot): a duplicate sooner than that is
		// not a lease that ran out, but a defect.
		e.check("DLR duplicates only from leases run out", c.DLRDup == 0 || c.DLRDupSoonest >= suiteLease/2,
			"%d duplicates, the soonest %v after its first copy (allowed: %v or later)", c.DLRDup, c.DLRDupSoonest, suiteLease/2)
	default:
		e.check("no duplicate DLR", c.DLRDup == 0, "%d duplicates", c.DLRDup)
	}
	e.check("no DLR to another tenant", c.Misrouted == 0, "%d misrouted", c.Misrouted)
	e.check("recovered within bound", recovered, "bound %v", bound)
	if f.others && during >= 0 {
		e.check("others untouched", during >= 0.8*baseline, "%.0f ok/s during vs %.0f before", during, baseline)
	}
	if !f.muxDown {
		var down []int
		for i, m := range e.muxes {
			if m.Exited() {
				down = append(down, i)
			}
		}
		name := "mux alive"
		if len(e.muxes) > 1 {
			name = "every instance alive"
		}
		e.check(name, len(down) == 0, "instances %v exited", down)
	}
	if f.after != nil {
		f.after(e)
	}
	r := Result{Fault: f.name, Counts: c, Baseline: baseline, During: during, Recovery: rec, Bound: bound, Recov: recovered, Checks: e.checks, Extra: e.extra}
	resultsMu.Lock()
	results = append(results, r)
	resultsMu.Unlock()
	t.Logf("%s: %s\n%s", f.name, r.Held(), r.Figures())
	for _, ch := range e.checks {
		if !ch.OK {
			t.Errorf("invariant %q failed: %s", ch.Name, ch.Detail)
		}
	}
}

// fleetPerTenant is how many steady clients each tenant runs in a fleet
// fault: 2 per tenant, 8 in all, bound to the instances round-robin, so
// that every tenant has sessions on two instances and every instance
// serves sessions of three tenants. See StartFleetLoad.
const fleetPerTenant = 2

// startFleet starts n mux instances on opts (one store, one provider
// account; each its own config, directory, journal and ports) and waits
// until every instance's upstream sessions are bound, so that the
// provider spreads receipts over all of them.
func (e *env) startFleet(opts MuxOptions, n int) {
	t := e.t
	for i := range n {
		o := opts
		if n > 1 {
			o.Journal = filepath.Join(t.TempDir(), "ids.journal")
		}
		if e.spec.instOpts != nil {
			e.spec.instOpts(e, i, &o)
		}
		cfg, addr, admin := Config(t, e.sim.Hosts, o)
		m := NewMux(t, muxBin, cfg, addr, admin)
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("mux %d log tail:\n%s", i, m.Tail(6000))
			}
		})
		e.muxes = append(e.muxes, m)
	}
	e.mux = e.muxes[0]
	if n > 1 { // 2 hosts x sessions_per_host 2 per instance
		eventually.That(t, 10*time.Second, "every instance's upstream sessions bound", func() bool { return e.sim.Stats().SessionsBound == 4*n })
	}
}

// addClient runs a fault-specific (not steady) client under the load.
func (e *env) addClient(id string, rate float64) *Client {
	c := &Client{L: e.L, Addr: e.mux.Addr, SystemID: id, Password: "pw", Rate: rate}
	e.others = append(e.others, c)
	e.load.Add(c)
	return c
}

// status reads the mux's /status.
func (e *env) status() (st struct {
	Downstream []struct {
		SystemID string `json:"system_id"`
		Inflight int64  `json:"inflight"`
	} `json:"downstream"`
	Queued map[string]int `json:"queued"`
	Held   int            `json:"held_reports"`
}, err error) {
	resp, err := HTTPGet("http://"+e.mux.Admin+"/status", 2*time.Second)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

func (e *env) boundAs(id string) int {
	st, err := e.status()
	if err != nil {
		return -1
	}
	n := 0
	for _, d := range st.Downstream {
		if d.SystemID == id {
			n++
		}
	}
	return n
}

func (e *env) hold() { time.Sleep(e.s.fault) }

func faultList() []faultSpec {
	return []faultSpec{
		{name: "01 kill -9 and restart", killed: true, restart: true, inject: func(e *env) {
			e.start = time.Now()
			e.L.MarkKill()
			e.mux.Kill()
			e.end = time.Now()
			if err := e.mux.Start(); err != nil {
				e.t.Fatal(err)
			}
			e.note("restart to ready %v", time.Since(e.end).Round(time.Millisecond))
		}},
		{name: "02 SIGTERM under load", restart: true, inject: func(e *env) {
			e.start = time.Now()
			code, err := e.mux.Term(45 * time.Second)
			e.check("SIGTERM exits 0", err == nil && code == 0, "exit %d, %v", code, err)
			e.note("SIGTERM to exit %v", time.Since(e.start).Round(time.Millisecond))
			e.end = time.Now()
			if err := e.mux.Start(); err != nil {
				e.t.Fatal(err)
			}
		}},
		{name: "03 one upstream host stopped and started", others: true, inject: func(e *env) {
			e.start = time.Now()
			e.sim.StopHost(e.sim.Hosts[0])
			e.hold()
			if err := e.sim.StartHost(e.sim.Hosts[0]); err != nil {
				e.t.Fatal(err)
			}
			e.end = time.Now()
		}, after: func(e *env) {
			eventually.That(e.t, 10*time.Second, "both hosts bound again", func() bool { return e.sim.Stats().SessionsBound == 4 })
		}},
		{name: "04 both hosts down", inject: func(e *env) {
			e.start = time.Now()
			e.sim.StopHost(e.sim.Hosts[0])
			e.sim.StopHost(e.sim.Hosts[1])
			e.hold()
			for _, h := range e.sim.Hosts {
				if err := e.sim.StartHost(h); err != nil {
					e.t.Fatal(err)
				}
			}
			e.end = time.Now()
		}},
		{name: "05 provider throttling (0x58)", inject: func(e *env) {
			e.start = time.Now()
			e.sim.SetThrottle(true)
			e.hold()
			e.sim.SetThrottle(false)
			e.end = time.Now()
		}},
		{name: "06 slow client", others: true, noRecov: true, before: func(e *env) {
			e.addClient("slow", 20)
		}, inject: func(e *env) {
			slow := e.others[0]
			e.start = time.Now()
			// First it leaves its deliver_sm unanswered (its window stalls)
			// while it goes on submitting, then it stops reading at all.
			slow.NoAck(true)
			time.Sleep(e.s.fault / 2)
			slow.StallReads()
			time.Sleep(e.s.fault / 2)
			n := e.boundAs("slow")
			st, _ := e.status()
			e.note("slow client's reports waiting in the store when it reconnects: %d", st.Queued["slow"])
			if n == 0 {
				e.note("slow client: closed by the mux as a slow consumer")
			} else {
				e.note("slow client: still bound (its window stalled)")
			}
			e.check("slow client's reports kept in the store", st.Queued["slow"] > 0, "%d queued", st.Queued["slow"])
			slow.Drop()
			slow.NoAck(false)
			e.end = time.Now()
		}},
		{name: "07 client disconnects mid-window", others: true, noRecov: true, before: func(e *env) {
			e.addClient("flaky", 50)
		}, inject: func(e *env) {
			fl := e.others[0]
			e.start = time.Now()
			fl.NoAck(true)
			time.Sleep(e.s.disrupt)
			e.note("flaky client dropped with %d submits in flight", fl.InFlight())
			fl.Drop()
			fl.NoAck(false)
			e.end = time.Now()
		}},
		{name: "08 crowd binding at once", others: true, noRecov: true, inject: func(e *env) {
			fd0 := e.mux.FDs()
			e.start = time.Now()
			r := BindCrowd(e.mux.Addr, "crowd", "pw", e.s.crowd, 20*time.Second, time.Second)
			e.end = time.Now()
			e.check(fmt.Sprintf("all %d bound", e.s.crowd), r.Bound == e.s.crowd, "bound %d, refused %d, failed %d, first error %v", r.Bound, r.Refused, r.Failed, r.FirstErr)
			e.note("%d clients: bound %d, bind latency p50 %v p99 %v max %v", e.s.crowd, r.Bound, r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Max.Round(time.Millisecond))
			e.settleFDs(fd0)
		}},
		{name: "09 garbage on the port", others: true, noRecov: true, inject: func(e *env) {
			fd0 := e.mux.FDs()
			e.start = time.Now()
			r := Garbage(e.mux.Addr, e.s.garbage, e.s.garbageD)
			e.end = time.Now()
			e.note("garbage: %d connections in %v (%d dial errors)", r.Conns, e.s.garbageD, r.DialErrs)
			e.settleFDs(fd0)
		}},
		{name: "10 Redis restarted", muxOpts: func(e *env, o *MuxOptions) {
			addr, stop, restart := redistest.Start(e.t, redistest.AppendOnly())
			o.Store = fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\ntimeout = \"500ms\"\n", addr)
			redisStop, redisRestart = stop, restart
		}, inject: func(e *env) {
			e.start = time.Now()
			redisStop()
			e.hold()
			redisRestart()
			e.end = time.Now()
		}},
		{name: "11 full disk (embedded store)", muxOpts: func(e *env, o *MuxOptions) {
			d, ok := MountDisk(e.t, "64m")
			disk = d
			if !ok {
				e.note("tmpfs not mountable: RLIMIT_FSIZE on the mux instead")
			}
			o.Store = fmt.Sprintf("module = \"bolt\"\npath = %q\n", d.Dir+"/mux.db")
		}, inject: func(e *env) {
			errs0 := e.mux.Metric("smppmux_store_errors_total")
			e.start = time.Now()
			if disk.tmpfs {
				n, err := disk.Fill()
				if err != nil {
					e.t.Fatalf("fill: %v", err)
				}
				e.note("disk filled with %d MiB", n>>20)
			} else if err := LimitFileSize(e.mux.Pid(), 0); err != nil {
				e.t.Fatal(err)
			}
			e.hold()
			if disk.tmpfs {
				if err := disk.Free(); err != nil {
					e.t.Fatal(err)
				}
			} else if err := LimitFileSize(e.mux.Pid(), -1); err != nil {
				e.t.Fatal(err)
			}
			e.end = time.Now()
			e.note("store errors during the fault: %.0f", e.mux.Metric("smppmux_store_errors_total")-errs0)
		}},
		{name: "12 external plugin killed", muxOpts: func(e *env, o *MuxOptions) {
			o.Rule = fmt.Sprintf("  [[client.rule]]\n  module = \"plugin\"\n  command = [%q]\n  timeout = \"2s\"\n  on_error = \"reject\"\n", pluginBin)
		}, inject: func(e *env) {
			kids := e.mux.Children()
			if len(kids) == 0 {
				e.t.Fatal("no plugin process under the mux")
			}
			e.start = time.Now()
			for _, p := range kids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			e.end = time.Now()
			e.note("killed %d plugin processes", len(kids))
		}, after: func(e *env) {
			kids := e.mux.Children()
			e.check("plugins restarted", len(kids) > 0, "%d plugin processes after", len(kids))
			// A killed mux must not leave its plugins running.
			e.mux.Kill()
			alive := kids
			deadline := time.Now().Add(5 * time.Second) // polled, not eventually: the check below is the row
			for len(alive) > 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
				alive = alive[:0:0]
				for _, p := range kids {
					if syscall.Kill(p, 0) == nil && !zombie(p) {
						alive = append(alive, p)
					}
				}
			}
			e.check("plugins end with a killed mux", len(alive) == 0, "%d of %d plugin processes still running 5s after kill -9 of the mux", len(alive), len(kids))
			for _, p := range alive {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}},
		{name: "13 unknown-id flood", others: true, noRecov: true, inject: func(e *env) {
			e.injectUnknown(e.s.unknown, 1, e.s.fault)
		}, after: func(e *env) {
			e.unknownAnswered(e.s.unknown, 1)
			e.goodReceipts()
		}},
		{name: "14 provider resends before dlr_grace", others: true, noRecov: true, simCfg: func(c *sim.Config) {
			c.DeliverTimeout = time.Second
		}, muxOpts: func(e *env, o *MuxOptions) {
			o.Server = map[string]string{"dlr_grace": `"10s"`}
		}, inject: func(e *env) {
			// Each receipt comes twice, as the provider sends again one
			// whose answer it did not get; the fault lasts long enough for
			// it to resend three times what the mux would leave unanswered.
			e.injectUnknown(e.s.unknown/5, 2, max(e.s.fault, 3*e.simCfg.DeliverTimeout))
		}, after: func(e *env) {
			e.unknownAnswered(e.s.unknown/5, 2)
			e.goodReceipts()
		}},
		{name: "15 unbound flood", others: true, noRecov: true, muxOpts: func(e *env, o *MuxOptions) {
			o.Server = map[string]string{"max_unbound": "100", "max_unbound_per_ip": "10"}
		}, inject: func(e *env) {
			const ips, perIP = 20, 12 // 240 wanted: over max_unbound, and over max_unbound_per_ip from each
			fd0 := e.mux.FDs()
			ev0 := e.mux.Metric(`smppmux_downstream_refused_total{limit="max_unbound"}`)
			pip0 := e.mux.Metric(`smppmux_downstream_refused_total{limit="max_unbound_per_ip"}`)
			d := 2 * e.s.fault
			e.start = time.Now()
			var fr FloodResult
			var wg sync.WaitGroup
			wg.Go(func() { fr = UnboundFlood(e.mux.Addr, ips, perIP, d) })
			time.Sleep(d / 10) // the flood fills max_unbound first
			froms := []net.IP{LoopbackIP(1), LoopbackIP(251)}
			pr := BindProbes(e.mux.Addr, "crowd", "pw", froms, 100*time.Millisecond, d*8/10, 5*time.Second)
			wg.Wait()
			e.end = time.Now()
			ev := e.mux.Metric(`smppmux_downstream_refused_total{limit="max_unbound"}`) - ev0
			pip := e.mux.Metric(`smppmux_downstream_refused_total{limit="max_unbound_per_ip"}`) - pip0
			e.note("flood from %d addresses, %d connections each wanted, for %v: %d dialled, %d closed by the mux, %d open at once at most (client side), %d dial errors; mux closed %.0f oldest unbound (max_unbound 100) and refused %.0f at max_unbound_per_ip 10",
				ips, perIP, d.Round(time.Millisecond), fr.Dials, fr.Closed, fr.MostOpen, fr.DialErrs, ev, pip)
			e.note("new clients during the flood: %d tried, %d bound, slowest bind %v", pr.Tried, pr.Bound, pr.Max.Round(time.Millisecond))
			e.check("new clients bind during the flood", pr.Tried > 0 && pr.Bound == pr.Tried, "%d of %d bound; first error %v", pr.Bound, pr.Tried, pr.FirstErr)
			e.check("the flood went past max_unbound", ev > 0, "%.0f evicted", ev)
			e.settleFDs(fd0)
		}},
		{name: "16 bcrypt burst", others: true, noRecov: true, muxOpts: func(e *env, o *MuxOptions) {
			h, err := bcrypt.GenerateFromPassword([]byte("pw"), 10)
			if err != nil {
				e.t.Fatal(err)
			}
			o.PasswordHash = string(h)
			// Every bind of the burst reaches the check: the per-address
			// cap of unbound connections is not what this fault tests.
			o.Server = map[string]string{"bind_fail_limit": strconv.Itoa(bindFailLimit), "bind_lockout": `"1m"`, "max_unbound_per_ip": "1000"}
		}, inject: func(e *env) {
			e.bcryptBurst(200)
		}},
		{name: "17 refusing client", others: true, noRecov: true, muxOpts: func(e *env, o *MuxOptions) {
			o.Tenants = append(o.Tenants, "refuser")
		}, before: func(e *env) {
			e.addClient("refuser", 20)
		}, inject: func(e *env) {
			ref := e.others[0]
			e.start = time.Now()
			ref.Refuse(true)
			time.Sleep(2 * e.s.fault)
			ref.Refuse(false)
			e.end = time.Now()
		}, after: func(e *env) {
			ids, total, most := e.others[0].Refusals()
			// Redelivery backs off per entry from 1s, doubling: one first
			// delivered at the fault's start is delivered again at 1s, 3s,
			// 7s, 15s... so a fault of T seconds sees at most
			// floor(log2(T+1))+1 deliveries of it, and one more for slack.
			bound := int(math.Log2(e.end.Sub(e.start).Seconds()+1)) + 2
			e.note("refusing client: %d receipts refused, %d refusals in all, at most %d of one receipt, over %v", ids, total, most, e.end.Sub(e.start).Round(time.Millisecond))
			e.check("redeliveries of a refused receipt bounded", ids > 0 && most <= bound, "%d deliveries of one receipt refused (bound %d with back-off from 1s doubling)", most, bound)
			e.goodReceipts()
		}},
		{name: "18 Redis down with 3 instances", instances: 3, storeDown: true, muxOpts: redisFleet, inject: func(e *env) {
			e.fleet0 = e.fleetMetrics()
			e.start = time.Now()
			redisStop()
			time.Sleep(e.s.outage)
			redisRestart()
			e.end = time.Now()
		}, after: func(e *env) {
			e.fleetAfter(-1)
		}},
		{name: "19 one instance cut off from Redis", instances: 3, storeCut: true, others: true, muxOpts: redisFleet, instOpts: func(e *env, i int, o *MuxOptions) {
			if i == 0 {
				redisFwd = StartForwarder(e.t, redisAddr)
				o.Store = redisStore(redisFwd.Addr)
			}
		}, inject: func(e *env) {
			e.fleet0 = e.fleetMetrics()
			e.start = time.Now()
			redisFwd.Cut()
			time.Sleep(e.s.outage)
			if err := redisFwd.Resume(); err != nil {
				e.t.Fatal(err)
			}
			e.end = time.Now()
		}, after: func(e *env) {
			e.fleetAfter(0)
		}},
		{name: "20 one instance's link to Redis stalled", instances: 3, storeCut: true, others: true, muxOpts: redisFleet, instOpts: func(e *env, i int, o *MuxOptions) {
			if i == 0 {
				redisFwd = StartForwarder(e.t, redisAddr)
				o.Store = redisStore(redisFwd.Addr)
			}
		}, inject: func(e *env) {
			e.fleet0 = e.fleetMetrics()
			e.start = time.Now()
			redisFwd.Stall()
			time.Sleep(e.s.outage)
			redisFwd.Unstall()
			e.end = time.Now()
		}, after: func(e *env) {
			e.fleetAfter(0)
		}},
		{name: "21 Redis's replies to one instance lost", instances: 3, storeCut: true, others: true, muxOpts: redisFleet, instOpts: func(e *env, i int, o *MuxOptions) {
			if i == 0 {
				redisFwd = StartForwarder(e.t, redisAddr)
				o.Store = redisStore(redisFwd.Addr)
			}
		}, inject: func(e *env) {
			e.fleet0 = e.fleetMetrics()
			e.start = time.Now()
			redisFwd.StallReplies()
			time.Sleep(e.s.outage)
			redisFwd.Unstall()
			e.end = time.Now()
		}, after: func(e *env) {
			e.fleetAfter(0)
		}},
	}
}

// bindFailLimit is the mux's bind_fail_limit in fault 16.
const bindFailLimit = 5

// Per-run state of faults 10 and 11, set by muxOpts (runs are sequential).
var (
	redisStop, redisRestart func()
	redisAddr               string
	redisFwd                *Forwarder // fault 19: instance 0's way to Redis
	disk                    *Disk
)

// settleFDs checks that the mux's descriptors return (bounded) to about
// what they were before a connection storm.
func (e *env) settleFDs(before int) {
	var now int
	ok := false
	deadline := time.Now().Add(10 * time.Second) // polled, not eventually: the check below is the row
	for time.Now().Before(deadline) {
		if now = e.mux.FDs(); now >= 0 && now <= before+10 {
			ok = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.check("descriptors released", ok, "%d before, %d after", before, now)
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// orphans returns the depth of the mux's orphan queue (mux.OrphanQueue),
// or -1.
func (e *env) orphans() int {
	st, err := e.status()
	if err != nil {
		return -1
	}
	return st.Queued["~orphaned"]
}

// injectUnknown is faults 13 and 14: n receipts for ids nobody knows come
// from the provider at once, copies times each (the same PDU body). The
// fault lasts until the mux has stored the last of them in its orphan
// queue, and at least hold.
func (e *env) injectUnknown(n, copies int, hold time.Duration) {
	if copies > 1 && time.Now().Second() >= 58 {
		// A receipt's done date has the minute: the copies of one must
		// not straddle two.
		time.Sleep(3 * time.Second)
	}
	e.acked0, e.resent0 = e.sim.Stats(), e.mux.Metric("smppmux_reports_resent_total")
	e.start = time.Now()
	for i := range n {
		for range copies {
			if err := e.sim.InjectReceipt("acct", fmt.Sprintf("unknown-%06d", i)); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	deadline := e.start.Add(e.s.bound) // polled, not eventually: how long it took is a note, the depth a check
	for e.orphans() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling the mux's /status
	}
	stored := time.Since(e.start)
	if d := time.Since(e.start); d < hold {
		time.Sleep(hold - d)
	}
	e.end = time.Now()
	sent := ""
	if copies > 1 {
		sent = fmt.Sprintf(", each sent %d times", copies)
	}
	e.note("%d unknown receipts injected%s; in the orphan queue after %v", n, sent, stored.Round(time.Millisecond))
}

// unknownAnswered checks, after the drain, that the n unknown receipts
// were each acknowledged (every copy) and stored once, and that the
// provider has nothing left to resend.
func (e *env) unknownAnswered(n, copies int) {
	ss := e.sim.Stats()
	// The simulator counts a report acknowledged once; after the drain
	// the load's receipts are all acknowledged, one per accepted submit
	// (no DLR lost checks them): the rest are the injected ones.
	unknownAcked := int(ss.DLRsAcked) - int(ss.Accepted)
	e.check("every unknown receipt acknowledged", unknownAcked == n*copies && ss.Pending == 0,
		"%d of %d acknowledged (provider: %d acked, %d submits accepted), %d waiting at the provider", unknownAcked, n*copies,
		ss.DLRsAcked, ss.Accepted, ss.Pending)
	resent := int(ss.Resent - e.acked0.Resent)
	recognised := e.mux.Metric("smppmux_reports_resent_total") - e.resent0
	e.check("provider resends bounded", resent <= max(10, n/100), "%d resent by the provider (bound %d); %.0f resends recognised by the mux",
		resent, max(10, n/100), recognised)
	if copies > 1 {
		e.check("copies recognised as resends", recognised >= float64(n*(copies-1)), "%.0f recognised, %d copies sent", recognised, n*(copies-1))
	}
	depth := e.orphans()
	e.check("orphan queue holds each once", depth == n, "%d in the orphan queue, %d injected", depth, n)
	e.note("after the drain: %d in the orphan queue; provider resent %d, mux recognised %.0f resends, %d unknown receipts acknowledged", depth, resent, recognised, unknownAcked)
	// Nothing is submitted now: a receipt sent again after the drain is
	// one resent in a loop.
	sent := ss.DLRsSent
	time.Sleep(e.simCfg.DeliverTimeout + time.Second)
	again := e.sim.Stats().DLRsSent - sent
	e.check("nothing resent in a loop", again == 0, "%d receipts sent in the %v after the drain", again, e.simCfg.DeliverTimeout+time.Second)
}

// goodReceipts checks that the steady tenants' receipts flowed while the
// fault lasted: every receipt of a submit accepted before its end came
// within the recovery bound of it, and reports their latency.
func (e *env) goodReceipts() {
	l := e.L
	before := l.Receipts(e.start.Add(-e.s.base), e.start, e.start.Add(e.s.bound), steadyTenants...)
	during := l.Receipts(e.start, e.end, e.end.Add(e.s.bound), steadyTenants...)
	all := l.Receipts(l.Start(), e.end, e.end.Add(e.s.bound), steadyTenants...)
	e.note("steady tenants' receipts before the fault: %v", before)
	e.note("steady tenants' receipts of submits accepted during the fault: %v", during)
	e.check("good receipts delivered within bound", all.Expected > 0 && all.Late == 0,
		"%d of %d receipts of submits accepted before the fault's end came later than %v after it, or not", all.Late, all.Expected, e.s.bound)
}

// bcryptBurst is fault 16: n binds with a wrong password at once from two
// addresses against tenants with bcrypt password hashes.
func (e *env) bcryptBurst(n int) {
	metric := func(reason string) float64 {
		return e.mux.Metric(`smppmux_downstream_binds_refused_total{reason="` + reason + `"}`)
	}
	wrong0, locked0, lock0 := metric("wrong_password"), metric("locked_out"), e.mux.Metric("smppmux_downstream_lockouts_total")
	attackers := []net.IP{LoopbackIP(2), LoopbackIP(3)}
	e.start = time.Now()
	br := BindBurst(e.mux.Addr, "t0", "wrong", attackers, n, 20*time.Second)
	// The attackers now have the password: they stay locked out.
	var after []pdu.Status
	for _, ip := range attackers {
		st, err := bindOnce(ip, e.mux.Addr, "t0", "pw", 5*time.Second)
		if err != nil {
			st = pdu.StatusSysErr
		}
		after = append(after, st)
	}
	// A good client from another address binds with it.
	good, gerr := bindOnce(LoopbackIP(4), e.mux.Addr, "crowd", "pw", 5*time.Second)
	time.Sleep(time.Second) // submits of the burst's last second are answered
	e.end = time.Now()
	wrong, locked, locks := metric("wrong_password")-wrong0, metric("locked_out")-locked0, e.mux.Metric("smppmux_downstream_lockouts_total")-lock0
	maxLat, baseLat := e.L.MaxLatency(e.start, e.end), e.L.MaxLatency(e.start.Add(-e.s.base), e.start)
	e.note("%d wrong-password binds at once from %d addresses: answered in %v: %s, %d unanswered", n, len(attackers), br.Took.Round(time.Millisecond), statuses(br.ByStatus), br.Failed)
	e.note("mux: %.0f refused wrong_password (bcrypt checks failed), %.0f refused locked_out, %.0f lockouts", wrong, locked, locks)
	e.note("steady submits' slowest round trip: %v during the burst, %v before", maxLat.Round(time.Millisecond), baseLat.Round(time.Millisecond))
	e.check("no attacker bound", br.ByStatus[pdu.StatusOK] == 0, "%d bound with a wrong password", br.ByStatus[pdu.StatusOK])
	limit := bindFailLimit * len(attackers)
	e.check("password checks bounded", wrong <= float64(limit) && br.ByStatus[pdu.StatusInvPassword] <= limit,
		"%.0f wrong_password refusals counted, %d answered ESME_RINVPASWD; at most %d (bind_fail_limit %d per address)", wrong, br.ByStatus[pdu.StatusInvPassword], limit, bindFailLimit)
	e.check("attackers locked out", locks == float64(len(attackers)) && !slices.Contains(after, pdu.StatusOK),
		"%.0f lockouts; binds with the right password from the attackers' addresses then: %v", locks, after)
	e.check("others bind", gerr == nil && good == pdu.StatusOK, "a bind from another address: %v %v", good, gerr)
	e.check("bound sessions served", maxLat < time.Second, "slowest steady submit %v during the burst (bound 1s)", maxLat.Round(time.Millisecond))
}

func statuses(m map[pdu.Status]int) string {
	return Counts{ByStatus: m}.Statuses()
}

// redisFleet is the muxOpts of faults 18 and 19: one Redis for every
// instance, append-only with fsync always, so that a restart keeps every
// write it acknowledged (the instances' journals cover the rest).
func redisFleet(e *env, o *MuxOptions) {
	addr, stop, restart := redistest.Start(e.t, redistest.AppendOnly())
	o.Store = redisStore(addr)
	redisAddr, redisStop, redisRestart = addr, stop, restart
}

// redisStore is the [store] body of store.redis at addr.
func redisStore(addr string) string {
	return fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\ntimeout = \"500ms\"\n", addr)
}

// fleetCounters are the counters fleetAfter reports per instance.
var fleetCounters = []string{
	"smppmux_store_errors_total",
	"smppmux_ids_written_back_total",
	"smppmux_ids_unjournaled_total",
	`smppmux_reports_stored_total{kind="receipt"}`,
	"smppmux_reports_matched_late_total",
	"smppmux_reports_orphaned_total",
	"smppmux_reports_resent_total",
}

// fleetMetrics reads fleetCounters and smppmux_ids_pending_writeback of
// every instance.
func (e *env) fleetMetrics() map[string][]float64 {
	out := map[string][]float64{}
	for _, name := range append(fleetCounters, "smppmux_ids_pending_writeback") {
		for _, m := range e.muxes {
			out[name] = append(out[name], m.Metric(name))
		}
	}
	return out
}

// fleetAfter is the checks and figures of faults 18 and 19, after the
// drain: Redis was out of reach of every instance (cut < 0) or of
// instance cut only from e.start to e.end.
func (e *env) fleetAfter(cut int) {
	now := e.fleetMetrics()
	delta := func(name string, i int) float64 { return now[name][i] - e.fleet0[name][i] }
	sum := func(name string) (n float64) {
		for i := range e.muxes {
			n += delta(name, i)
		}
		return n
	}
	whom := "every instance"
	if cut >= 0 {
		whom = fmt.Sprintf("instance %d only", cut)
	}
	e.note("fleet: %d instances on one Redis and one provider account (%d upstream sessions), %d steady clients (%d per tenant, round-robin over the instances) at %.0f submits/s each; Redis out of reach of %s for %v",
		len(e.muxes), 4*len(e.muxes), len(e.load.Clients), fleetPerTenant, e.s.rate, whom, e.s.outage)
	per := make([]string, len(e.muxes))
	for i := range e.muxes {
		per[i] = fmt.Sprintf("#%d: %.0f store errors, %.0f ids written back, %.0f receipts stored (%.0f matched late, %.0f orphaned past the grace), %.0f resends recognised",
			i, delta("smppmux_store_errors_total", i), delta("smppmux_ids_written_back_total", i), delta(`smppmux_reports_stored_total{kind="receipt"}`, i),
			delta("smppmux_reports_matched_late_total", i), delta("smppmux_reports_orphaned_total", i), delta("smppmux_reports_resent_total", i))
	}
	e.note("per instance from the fault's start: %s", strings.Join(per, "; "))

	// The outage reached whom it was meant to, and ids were journaled.
	if cut < 0 {
		var missed []int
		for i := range e.muxes {
			if delta("smppmux_store_errors_total", i) <= 0 || delta("smppmux_ids_written_back_total", i) <= 0 {
				missed = append(missed, i)
			}
		}
		e.check("every instance journaled ids and wrote them back", len(missed) == 0, "instances %v saw no store error or wrote no id back", missed)
	} else {
		var hit []int
		for i := range e.muxes {
			if i != cut && delta("smppmux_store_errors_total", i) > 0 {
				hit = append(hit, i)
			}
		}
		ok := delta("smppmux_store_errors_total", cut) > 0 && delta("smppmux_ids_written_back_total", cut) > 0 && len(hit) == 0
		e.check("only the cut-off instance saw the outage, and it journaled ids and wrote them back", ok,
			"instance %d: %.0f store errors, %.0f ids written back; other instances with store errors: %v",
			cut, delta("smppmux_store_errors_total", cut), delta("smppmux_ids_written_back_total", cut), hit)
	}
	var pending []string
	for i := range e.muxes {
		if p := now["smppmux_ids_pending_writeback"][i]; p != 0 {
			pending = append(pending, fmt.Sprintf("#%d %.0f", i, p))
		}
	}
	e.check("journals written back", len(pending) == 0 && sum("smppmux_ids_unjournaled_total") == 0,
		"ids still waiting for the store: %v; ids kept in memory only: %.0f", pending, sum("smppmux_ids_unjournaled_total"))
	depth := e.orphans()
	e.check("orphan queue empty", depth == 0, "%d receipts left in the orphan queue", depth)
	e.leasesLeft()

	// Stalls: the receipts of submits accepted before, during and after
	// the outage, and of those through each instance during it.
	l, bound := e.L, e.s.bound
	before := l.Receipts(e.start.Add(-e.s.base), e.start, e.start.Add(bound))
	during := l.Receipts(e.start, e.end, e.end.Add(bound))
	after := l.Receipts(e.end, e.end.Add(e.s.base), e.end.Add(e.s.base+bound))
	all := l.Receipts(l.Start(), e.end, e.end.Add(bound))
	e.note("receipts of submits accepted in the %v before the outage: %v", e.s.base, before)
	e.note("of submits accepted during it: %v", during)
	for i := range e.muxes {
		via := strconv.Itoa(i)
		f := l.ReceiptsOf(e.start, e.end, e.end.Add(bound), func(_, v string) bool { return v == via })
		e.note("of those through instance %d: %v", i, f)
	}
	e.note("of submits accepted in the %v after it: %v", e.s.base, after)
	if !all.Last.IsZero() {
		e.note("the last receipt of a submit accepted before the outage's end came %v after its end", all.Last.Sub(e.end).Round(time.Millisecond))
	}
	e.check("receipts delivered within bound", all.Expected > 0 && all.Late == 0 && after.Late == 0,
		"%d of %d receipts of submits accepted up to the outage's end came later than %v after it, or not; %d of %d of the %v after it later than %v after that",
		all.Late, all.Expected, bound, after.Late, after.Expected, e.s.base, bound)
}

// leasesLeft notes the entries of the orphan queue and of the steady
// tenants' queues that are still leased to an instance, unacknowledged,
// after the drain: receipts that wait for a lease to run out.
func (e *env) leasesLeft() {
	ls, err := RedisLeases(redisAddr, append([]string{"~orphaned"}, steadyTenants...)...)
	if err != nil {
		e.note("leases left after the drain: cannot read them: %v", err)
		return
	}
	if len(ls) == 0 {
		e.note("leases left after the drain: none")
		return
	}
	who := map[string]string{}
	for i, m := range e.muxes {
		who[consumerOf(m)] = fmt.Sprintf("instance %d", i)
	}
	var parts []string
	for _, l := range ls {
		c := who[l.Consumer]
		if c == "" {
			c = "consumer " + l.Consumer
		}
		parts = append(parts, fmt.Sprintf("%s entry %s leased to %s (fetched %d times), lease runs out in %v", l.Queue, l.Entry, c, l.Deliveries, l.Left.Round(time.Second)))
	}
	e.note("leases left after the drain: %d: %s", len(ls), strings.Join(parts, "; "))
}

// consumerOf returns the name store.redis gave the mux's last run in its
// consumer groups, from its log.
func consumerOf(m *Mux) string {
	b, _ := os.ReadFile(m.Log)
	s := string(b)
	i := strings.LastIndex(s, `"consumer": "`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`"consumer": "`):]
	name, _, _ := strings.Cut(s, `"`)
	return name
}

// suiteLease is the lease of an entry on its way to a client in the
// suite's muxes: twice their [server] response_timeout (serverDefaults).
var suiteLease = func() time.Duration {
	for _, kv := range serverDefaults {
		if kv[0] == "response_timeout" {
			if d, err := time.ParseDuration(strings.Trim(kv[1], `"`)); err == nil {
				return 2 * d
			}
		}
	}
	panic("faults: serverDefaults has no response_timeout")
}()
