package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
)

// row is one run of the load generator against one path.
type row struct {
	Mode     string  `json:"mode"`
	Path     string  `json:"path"` // direct | mux | mux-bolt | mux-memory | mux-rules
	Conns    int     `json:"conns"`
	Window   int     `json:"window"`
	Upstream int     `json:"upstream_sessions"`
	Offered  float64 `json:"offered"` // submits/s; 0: closed loop
	Rep      int     `json:"rep"`
	*LoadResult
	MuxCPUPerM      float64 `json:"mux_cpu_s_per_million"`
	HarnessCPUPerM  float64 `json:"harness_cpu_s_per_million"`
	MuxPeakRSS      int64   `json:"mux_peak_rss"`
	MuxReadsPerMsg  float64 `json:"mux_read_syscalls_per_msg"`
	MuxWritesPerMsg float64 `json:"mux_write_syscalls_per_msg"`
}

// idlePoint is the memory of a path's process (mux or reference) with
// Binds downstream connections bound.
type idlePoint struct {
	Path       string `json:"path"` // mux | reference; "" in older results: mux
	Clients    int    `json:"clients,omitempty"`
	Binds      int    `json:"binds"`
	RSSAfterGC int64  `json:"rss_after_forced_gc,omitempty"` // mux, last step: after runtime.GC and debug.FreeOSMemory
	// The mux's heap in use and stacks after that GC.
	HeapAfterGC int64 `json:"heap_after_forced_gc,omitempty"`
	// The mux's free heap not yet returned to the OS, and the runtime's
	// own structures (see helperStats).
	HeapUnreleased int64 `json:"heap_unreleased,omitempty"`
	Runtime        int64 `json:"runtime,omitempty"`
	StackAfterGC   int64 `json:"stack_after_forced_gc,omitempty"`
	RSS            int64 `json:"rss"`
	HWM            int64 `json:"hwm"`
	HeapInuse      int64 `json:"heap_inuse"`
	StackInuse     int64 `json:"stack_inuse"`
	Goroutines     int   `json:"goroutines"`
}

// bench holds the options and everything measured so far.
type bench struct {
	o    options
	ctx  context.Context
	dir  string // scratch: configs, logs, bolt files
	rows []row
	idle []idlePoint
	logf func(format string, args ...any)

	ref     *reference // nil: no reference path
	refNote string     // why there is none
}

func accounts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%d", i)
	}
	return out
}

// spec returns a closed-loop spec of conns x window to addrs.
func (b *bench) spec(addrs []string, conns, window int) loadSpec {
	return loadSpec{
		addrs: addrs, accounts: accounts(conns), password: "pw",
		conns: conns, window: window,
		warmup: b.o.warmup, measure: b.o.duration, drain: 10 * time.Second,
	}
}

// measured is a process under test: the mux or the reference.
type measured interface {
	cpu() time.Duration
	syscalls() (r, w int64)
	mem() (rss, hwm int64)
}

// runOne runs sp, measuring mp's CPU (when mp is set) over the measure
// window, and records the row; a CPU profile is taken only of a mux.
func (b *bench) runOne(mode, path string, upstream int, sp loadSpec, mp measured, profile string) (row, error) {
	var wg sync.WaitGroup
	var muxCPU, selfCPUd time.Duration
	var sysR, sysW int64
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	sp.onWindow = func(t0, t1 time.Time) {
		if mp != nil {
			wg.Go(func() { muxCPU = sampleCPU(ctx, t0, t1, mp.cpu) })
			wg.Go(func() {
				sleepUntil(ctx, t0)
				r0, w0 := mp.syscalls()
				sleepUntil(ctx, t1)
				r1, w1 := mp.syscalls()
				sysR, sysW = r1-r0, w1-w0
			})
			if mux, ok := mp.(*muxProc); ok && profile != "" {
				wg.Go(func() {
					sleepUntil(ctx, t0)
					if _, err := mux.command("cpuprofile " + profile); err != nil {
						b.logf("cpuprofile: %v", err)
						return
					}
					sleepUntil(ctx, t1)
					_, _ = mux.command("cpuprofile-stop")
				})
			}
		}
		wg.Go(func() { selfCPUd = sampleCPU(ctx, t0, t1, selfCPU) })
	}
	res, err := sp.run(b.ctx)
	cancel()
	wg.Wait()
	if err != nil {
		return row{}, fmt.Errorf("%s %s: %w", mode, path, err)
	}
	r := row{Mode: mode, Path: path, Conns: sp.conns, Window: sp.window, Upstream: upstream, Offered: sp.rate, LoadResult: res}
	msgs := float64(res.OK)
	if sp.receipts && res.DLRRate > 0 {
		msgs = res.DLRRate * b.o.duration.Seconds() // a message costs its submit and its receipt
	}
	if msgs > 0 {
		r.MuxCPUPerM = muxCPU.Seconds() / msgs * 1e6
		r.HarnessCPUPerM = selfCPUd.Seconds() / msgs * 1e6
		r.MuxReadsPerMsg, r.MuxWritesPerMsg = float64(sysR)/msgs, float64(sysW)/msgs
	}
	if mp != nil {
		_, r.MuxPeakRSS = mp.mem()
	}
	b.rows = append(b.rows, r)
	b.logRow(r)
	return r, nil
}

func (b *bench) logRow(r row) {
	offered := "closed"
	if r.Offered > 0 {
		offered = fmt.Sprintf("%.0f/s", r.Offered)
	}
	line := fmt.Sprintf("%-8s %-10s %4dx%-3d up=%-2d %-9s %8.0f msg/s p50=%.2fms p99=%.2fms p99.9=%.2fms err=%d",
		r.Mode, r.Path, r.Conns, r.Window, r.Upstream, offered, r.Throughput, r.P50, r.P99, r.P999, r.Errors)
	if r.MuxCPUPerM > 0 {
		line += fmt.Sprintf(" mux=%.2f cpu-s/M rss=%.1fMiB syscalls/msg r=%.2f w=%.2f", r.MuxCPUPerM, float64(r.MuxPeakRSS)/(1<<20), r.MuxReadsPerMsg, r.MuxWritesPerMsg)
	}
	if r.Submitted > 0 {
		line += fmt.Sprintf(" dlr=%.0f/s e2e=%.0f/s right=%d wrong=%d unknown=%d missing=%d dup=%d",
			r.DLRRate, r.EndToEnd, r.DLRRight, r.DLRWrong, r.DLRUnknown, r.DLRMissing, r.DLRDup)
	}
	if r.Unanswered > 0 || r.ConnFailures > 0 {
		line += fmt.Sprintf(" unanswered=%d connfail=%d", r.Unanswered, r.ConnFailures)
	}
	b.logf("%s", line)
}

func (b *bench) muxConf(s *simHosts, store string, clients int) muxConfig {
	return muxConfig{
		Store: store, Path: filepath.Join(b.dir, fmt.Sprintf("mux-%d.db", time.Now().UnixNano())),
		SimAddrs: s.addrs, SessionsPerHost: b.o.sessions, UpWindow: b.o.upWindow, DownWindow: b.o.downWindow,
		Clients: clients, MaxBinds: 1, MaxConnections: 11000,
	}
}

func (b *bench) profilePath(name string) string {
	if b.o.profileDir == "" {
		return ""
	}
	return filepath.Join(b.o.profileDir, name+".pprof")
}

func (b *bench) upstream() int { return 2 * b.o.sessions }

// refPath is the reference proxy's path in the rows.
const refPath = "reference"

// startRef starts the reference proxy against the simulator with the
// mux's upstream sessions and window; nil without a reference.
func (b *bench) startRef(s *simHosts, name string, sessions, window int) (*proc, error) {
	if b.ref == nil {
		return nil, nil
	}
	// One address: both simulator listeners serve the same accounts.
	return startRef(b.ref, b.dir, "ref-"+name, s.addrs[0], "ref-"+name, sessions, window)
}

// trio runs the direct, mux and reference paths of one shape, in that
// order; rf nil leaves the reference out.
func (b *bench) trio(mode string, d, m loadSpec, mp *muxProc, rf *proc, prof string) error {
	if _, err := b.runOne(mode, "direct", 0, d, nil, ""); err != nil {
		return err
	}
	if _, err := b.runOne(mode, "mux", b.upstream(), m, mp, prof); err != nil {
		return err
	}
	if rf == nil {
		return nil
	}
	r := m
	r.addrs = []string{rf.addr}
	_, err := b.runOne(mode, refPath, b.upstream(), r, rf, "")
	return err
}

// proxy: submits without receipts, direct, through the mux and through
// the reference, interleaved; closed loop for the peak (the main shape and
// the few-binds shape), then paced at fractions of the mux's peak for
// latency under load.
func (b *bench) proxy() error {
	s, err := startSim(sim.Config{Window: b.o.simWindow})
	if err != nil {
		return err
	}
	defer s.close()
	mp, err := startMux(b.dir, "proxy", b.muxConf(s, "bolt", max(b.o.conns, b.o.few.conns)))
	if err != nil {
		return err
	}
	defer mp.stop()
	rf, err := b.startRef(s, "proxy", b.upstream(), b.o.upWindow)
	if err != nil {
		return err
	}
	if rf != nil {
		defer stopRef(rf)
	}
	direct := b.spec(s.addrs, b.o.conns, b.o.window)
	viaMux := b.spec([]string{mp.addr}, b.o.conns, b.o.window)
	for rep := range b.o.reps {
		prof := ""
		if rep == 0 {
			prof = b.profilePath("mux-proxy")
		}
		if err := b.trio("proxy", direct, viaMux, mp, rf, prof); err != nil {
			return err
		}
		if f := b.o.few; f.conns > 0 {
			if err := b.trio("proxy", b.spec(s.addrs, f.conns, f.window), b.spec([]string{mp.addr}, f.conns, f.window), mp, rf, ""); err != nil {
				return err
			}
		}
	}
	peak := b.median("proxy", "mux", b.o.conns, b.o.window, 0, func(r row) float64 { return r.Throughput })
	for _, f := range b.o.fractions {
		rate := float64(int(f * peak))
		if rate < 1 {
			continue
		}
		d, m := direct, viaMux
		d.rate, m.rate = rate, rate
		for rep := range b.o.reps {
			prof := ""
			if rep == 0 && f == 0.5 {
				prof = b.profilePath("mux-proxy-half")
			}
			if err := b.trio("proxy", d, m, mp, rf, prof); err != nil {
				return err
			}
		}
	}
	return nil
}

// receipts: every submit asks for a receipt; the simulator spreads the
// receipts over the account's binds (the mux's upstream sessions). The
// mux runs with the bolt store (durable) and the memory store; the
// reference keeps its ids in a map.
func (b *bench) receipts() error {
	s, err := startSim(sim.Config{Window: b.o.simWindow, DLRDelay: b.o.dlrDelay, MaxPending: 1 << 22})
	if err != nil {
		return err
	}
	defer s.close()
	mb, err := startMux(b.dir, "receipts-bolt", b.muxConf(s, "bolt", b.o.conns))
	if err != nil {
		return err
	}
	defer mb.stop()
	mm, err := startMux(b.dir, "receipts-memory", b.muxConf(s, "memory", b.o.conns))
	if err != nil {
		return err
	}
	defer mm.stop()
	rf, err := b.startRef(s, "receipts", b.upstream(), b.o.upWindow)
	if err != nil {
		return err
	}
	if rf != nil {
		defer stopRef(rf)
	}
	withReceipts := func(sp loadSpec) loadSpec {
		sp.receipts, sp.dlrCap, sp.drain = true, b.o.dlrCap, b.o.dlrDrain
		return sp
	}
	direct := withReceipts(b.spec(s.addrs, b.o.conns, b.o.window))
	viaBolt := withReceipts(b.spec([]string{mb.addr}, b.o.conns, b.o.window))
	viaMem := withReceipts(b.spec([]string{mm.addr}, b.o.conns, b.o.window))
	var viaRef loadSpec
	if rf != nil {
		viaRef = withReceipts(b.spec([]string{rf.addr}, b.o.conns, b.o.window))
	}
	for rep := range b.o.reps {
		if _, err := b.runOne("receipts", "direct", 0, direct, nil, ""); err != nil {
			return err
		}
		prof := ""
		if rep == 0 {
			prof = b.profilePath("mux-receipts-bolt")
		}
		if _, err := b.runOne("receipts", "mux-bolt", b.upstream(), viaBolt, mb, prof); err != nil {
			return err
		}
		if _, err := b.runOne("receipts", "mux-memory", b.upstream(), viaMem, mm, ""); err != nil {
			return err
		}
		if rf != nil {
			if _, err := b.runOne("receipts", refPath, b.upstream(), viaRef, rf, ""); err != nil {
				return err
			}
		}
	}
	peak := b.median("receipts", "mux-bolt", b.o.conns, b.o.window, 0, func(r row) float64 { return r.Throughput })
	rate := float64(int(peak / 2))
	if rate < 1 {
		return nil
	}
	direct.rate, viaBolt.rate, viaRef.rate = rate, rate, rate
	for range b.o.reps {
		if _, err := b.runOne("receipts", "direct", 0, direct, nil, ""); err != nil {
			return err
		}
		if _, err := b.runOne("receipts", "mux-bolt", b.upstream(), viaBolt, mb, ""); err != nil {
			return err
		}
		if rf != nil {
			if _, err := b.runOne("receipts", refPath, b.upstream(), viaRef, rf, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// rules: the mux without rules and with every built-in rule on every
// client, interleaved.
func (b *bench) rules() error {
	s, err := startSim(sim.Config{Window: b.o.simWindow})
	if err != nil {
		return err
	}
	defer s.close()
	plain, err := startMux(b.dir, "rules-none", b.muxConf(s, "bolt", b.o.conns))
	if err != nil {
		return err
	}
	defer plain.stop()
	rc := b.muxConf(s, "bolt", b.o.conns)
	rc.Rules = true
	ruled, err := startMux(b.dir, "rules-all", rc)
	if err != nil {
		return err
	}
	defer ruled.stop()
	for rep := range b.o.reps {
		if _, err := b.runOne("rules", "mux", b.upstream(), b.spec([]string{plain.addr}, b.o.conns, b.o.window), plain, ""); err != nil {
			return err
		}
		prof := ""
		if rep == 0 {
			prof = b.profilePath("mux-rules")
		}
		if _, err := b.runOne("rules", "mux-rules", b.upstream(), b.spec([]string{ruled.addr}, b.o.conns, b.o.window), ruled, prof); err != nil {
			return err
		}
	}
	return nil
}

// scalingStep is one point of the scaling mode.
type scalingStep struct{ conns, window, sessionsPerHost int }

// scaling: closed loop as the clients grow, with window and upstream
// sessions growing along; the upstream window holds all client windows.
func (b *bench) scaling() error {
	s, err := startSim(sim.Config{Window: b.o.simWindow})
	if err != nil {
		return err
	}
	defer s.close()
	for _, st := range b.o.steps {
		if err := b.scalingStep(s, st); err != nil {
			return err
		}
	}
	return nil
}

// scalingStep runs one step: direct, mux and reference, each with its
// own mux and reference process sized for the step.
func (b *bench) scalingStep(s *simHosts, st scalingStep) error {
	mc := b.muxConf(s, "bolt", st.conns)
	mc.SessionsPerHost = st.sessionsPerHost
	mc.UpWindow = max(16, (st.conns*st.window+2*st.sessionsPerHost-1)/(2*st.sessionsPerHost))
	up := 2 * st.sessionsPerHost
	mp, err := startMux(b.dir, fmt.Sprintf("scaling-%d", st.conns), mc)
	if err != nil {
		return err
	}
	defer mp.stop()
	rf, err := b.startRef(s, fmt.Sprintf("scaling-%d", st.conns), up, mc.UpWindow)
	if err != nil {
		return err
	}
	if rf != nil {
		defer stopRef(rf)
	}
	for range b.o.scalingReps {
		if _, err := b.runOne("scaling", "direct", 0, b.spec(s.addrs, st.conns, st.window), nil, ""); err != nil {
			return err
		}
		if _, err := b.runOne("scaling", "mux", up, b.spec([]string{mp.addr}, st.conns, st.window), mp, ""); err != nil {
			return err
		}
		if rf != nil {
			if _, err := b.runOne("scaling", refPath, up, b.spec([]string{rf.addr}, st.conns, st.window), rf, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// idle: downstream binds held open without traffic, spread over
// idleClients accounts; the RSS of the mux, then of the reference, as
// they grow.
func (b *bench) idleMode() error {
	s, err := startSim(sim.Config{Window: b.o.simWindow})
	if err != nil {
		return err
	}
	defer s.close()
	clients := min(b.o.idleClients, b.o.idleBinds)
	mc := b.muxConf(s, "bolt", clients)
	mc.MaxBinds = (b.o.idleBinds + clients - 1) / clients
	mc.MaxConnections = b.o.idleBinds + 1000
	mp, err := startMux(b.dir, "idle", mc)
	if err != nil {
		return err
	}
	err = b.idleRun("mux", mp.proc, mp, clients)
	mp.stop()
	if err != nil || b.ref == nil {
		return err
	}
	rf, err := b.startRef(s, "idle", b.upstream(), b.o.upWindow)
	if err != nil {
		return err
	}
	defer stopRef(rf)
	return b.idleRun(refPath, rf, nil, clients)
}

// idleRun binds up to idleBinds idle connections to p in four steps and
// records p's RSS at each, after idleSettle: the figure an outside
// observer reads. A mux (mp set) also reports its Go heap, stacks and
// goroutines, and at the last step its RSS after a forced GC that
// returns free memory to the OS.
func (b *bench) idleRun(path string, p *proc, mp *muxProc, clients int) error {
	accts := accounts(clients)
	var conns []*idleConn
	defer func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, c := range conns {
			sem <- struct{}{}
			wg.Go(func() { c.close(); <-sem })
		}
		wg.Wait()
	}()
	const steps = 4
	for step := 0; step <= steps; step++ {
		target := b.o.idleBinds * step / steps
		var mu sync.Mutex
		var wg sync.WaitGroup
		var dialErr error
		sem := make(chan struct{}, 32)
		for i := len(conns); i < target; i++ {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				c, err := dialIdle(p.addr, accts[i%clients], "pw")
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if dialErr == nil {
						dialErr = fmt.Errorf("idle %s bind %d: %w", path, i, err)
					}
					return
				}
				conns = append(conns, c)
			})
		}
		wg.Wait()
		if dialErr != nil {
			return dialErr
		}
		sleepUntil(b.ctx, time.Now().Add(b.o.idleSettle))
		rss, hwm := p.mem()
		pt := idlePoint{Path: path, Clients: clients, Binds: len(conns), RSS: rss, HWM: hwm}
		if mp != nil {
			if ans, err := mp.command("stats"); err == nil {
				var hs helperStats
				if json.Unmarshal([]byte(ans), &hs) == nil {
					pt.HeapInuse, pt.StackInuse, pt.Goroutines = int64(hs.HeapInuse), int64(hs.StackInuse), hs.Goroutines
					pt.HeapUnreleased, pt.Runtime = int64(hs.HeapUnreleased), int64(hs.Runtime)
				}
			}
			if step == steps {
				if b.o.profileDir != "" {
					_, _ = mp.command("heap " + filepath.Join(b.o.profileDir, "mux-idle-heap.pprof"))
					_, _ = mp.command("goroutines " + filepath.Join(b.o.profileDir, "mux-idle-goroutines.txt"))
				}
				if _, err := mp.command("gc"); err != nil {
					return err
				}
				pt.RSSAfterGC, _ = p.mem()
				if ans, err := mp.command("stats"); err == nil {
					var hs helperStats
					if json.Unmarshal([]byte(ans), &hs) == nil {
						pt.HeapAfterGC, pt.StackAfterGC = int64(hs.HeapInuse), int64(hs.StackInuse)
					}
				}
			}
		}
		b.idle = append(b.idle, pt)
		b.logf("idle     %-9s %5d binds: rss=%.1fMiB hwm=%.1fMiB heap=%.1fMiB stacks=%.1fMiB goroutines=%d unreleased=%.1fMiB runtime=%.1fMiB; after a forced GC: rss=%.1fMiB heap=%.1fMiB stacks=%.1fMiB",
			path, pt.Binds, mib(pt.RSS), mib(pt.HWM), mib(pt.HeapInuse), mib(pt.StackInuse), pt.Goroutines, mib(pt.HeapUnreleased), mib(pt.Runtime), mib(pt.RSSAfterGC), mib(pt.HeapAfterGC), mib(pt.StackAfterGC))
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// idleConn is a bound connection that only answers enquire_link.
type idleConn struct {
	nc   net.Conn
	done chan struct{}
}

func dialIdle(addr, systemID, password string) (*idleConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if err := bindConn(nc, systemID, password); err != nil {
		nc.Close()
		return nil, err
	}
	c := &idleConn{nc: nc, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		br := bufio.NewReaderSize(nc, 256)
		var buf []byte
		for {
			f, err := pdu.ReadFrame(br, buf, pdu.DefaultMaxLength)
			if err != nil {
				return
			}
			buf = f[:0]
			switch h, _ := pdu.DecodeHeader(f); h.ID {
			case pdu.CmdEnquireLink:
				_, _ = nc.Write(pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLinkResp, 0, h.Seq))
			case pdu.CmdUnbind:
				_, _ = nc.Write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbindResp, 0, h.Seq))
			case pdu.CmdDeliverSM:
				_, _ = nc.Write(pdu.Append(nil, pdu.CmdDeliverSMResp, 0, h.Seq, &pdu.SMResp{}))
			}
		}
	}()
	return c, nil
}

func (c *idleConn) close() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(pdu.AppendHeaderOnly(nil, pdu.CmdUnbind, 0, 1))
	select {
	case <-c.done:
	case <-time.After(500 * time.Millisecond):
	}
	c.nc.Close()
	<-c.done
}

// median of f over the rows of mode, path and shape at offered rate.
func (b *bench) median(mode, path string, conns, window int, offered float64, f func(row) float64) float64 {
	var v []float64
	for _, r := range b.rows {
		if r.Mode == mode && r.Path == path && r.Conns == conns && r.Window == window && r.Offered == offered {
			v = append(v, f(r))
		}
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
