// Command soak runs smpp-mux (a subprocess built from this module) in
// front of the in-process provider simulator under steady load with
// delivery receipts, and samples the mux's resident memory (VmRSS), its
// goroutines (go_goroutines from /metrics) and its open descriptors every
// interval. At the end it prints the table and, per series, a verdict by
// a least-squares line over the samples after warm-up: flat, or growing.
// It is not part of CI:
//
//	go run ./faults/soak -duration 30m
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/smpp-mux/smpp-mux/faults"
)

func main() {
	duration := flag.Duration("duration", 30*time.Minute, "how long to run the load")
	interval := flag.Duration("interval", 10*time.Second, "sampling interval")
	rate := flag.Float64("rate", 100, "submits per second per client")
	clients := flag.Int("clients", 4, "steady clients (one tenant each)")
	ttl := flag.Duration("dlr-ttl", 5*time.Minute, "store.dlr_ttl: ids older than this are swept, so the store reaches a steady size")
	sweep := flag.Duration("sweep", 30*time.Second, "store.sweep")
	warmup := flag.Duration("warmup", 0, "samples before this are shown but not fitted (default dlr-ttl + 2 sweeps, capped at a third of the run)")
	flag.Parse()
	if *warmup == 0 {
		*warmup = min(*ttl+2**sweep, *duration/3)
	}
	tb := &soakTB{}
	code := run(tb, *duration, *interval, *rate, *clients, *warmup, *ttl, *sweep)
	tb.cleanup()
	os.Exit(code)
}

type sample struct {
	at               time.Duration
	rss, gor, fds    float64
	sent, ok, dlrs   int
	lost, unanswered int
}

func run(tb *soakTB, duration, interval time.Duration, rate float64, nclients int, warmup, ttl, sweep time.Duration) (code int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); ok {
				code = 1
				return
			}
			panic(r)
		}
	}()
	bin, err := faults.Build(tb.TempDir(), "github.com/smpp-mux/smpp-mux/cmd/smpp-mux", "smpp-mux")
	if err != nil {
		tb.Fatalf("%v", err)
	}
	if _, err := faults.RaiseNoFile(); err != nil {
		tb.Logf("raise RLIMIT_NOFILE: %v", err)
	}
	s := faults.StartSim(tb, faults.SimConfig())
	var tenants []string
	for i := range nclients {
		tenants = append(tenants, fmt.Sprintf("t%d", i))
	}
	store := fmt.Sprintf("module = \"bolt\"\npath = %q\ndlr_ttl = %q\nsweep = %q\n", filepath.Join(tb.TempDir(), "mux.db"), ttl.String(), sweep.String())
	cfg, addr, admin := faults.Config(tb, s.Hosts, faults.MuxOptions{Tenants: tenants, Store: store})
	m := faults.NewMux(tb, bin, cfg, addr, admin)
	if err := m.Start(); err != nil {
		tb.Fatalf("%v", err)
	}
	l := faults.NewLedger(duration + 10*time.Minute)
	load := faults.StartLoad(tb, l, addr, tenants, rate)

	fmt.Printf("soak: %d clients x %.0f submits/s with receipts for %v (bolt, dlr_ttl %v, sweep %v; fit after %v); mux pid %d, log %s\n\n",
		nclients, rate, duration, ttl, sweep, warmup, m.Pid(), m.Log)
	fmt.Printf("%8s %10s %10s %6s %10s %10s %10s %6s %6s\n", "t", "rss_kib", "goroutines", "fds", "sent", "ok/s", "dlrs", "lost", "unans")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := time.Now()
	end := start.Add(duration)
	var samples []sample
	last := time.Now()
loop:
	for time.Now().Before(end) {
		select {
		case <-tick.C:
		case <-sigs:
			fmt.Println("interrupted")
			break loop
		}
		if m.Exited() {
			fmt.Printf("the mux exited; log tail:\n%s\n", m.Tail(3000))
			return 1
		}
		now := time.Now()
		c := l.Counts()
		sm := sample{
			at:  now.Sub(start).Round(time.Second),
			rss: float64(m.RSSKiB()), gor: m.Metric("go_goroutines"), fds: float64(m.FDs()),
			sent: c.Sent, ok: c.ByStatus[0], dlrs: c.DLRDelivered, lost: c.DLRExpected - c.DLRDelivered, unanswered: c.Unanswered,
		}
		samples = append(samples, sm)
		fmt.Printf("%8v %10.0f %10.0f %6.0f %10d %10.0f %10d %6d %6d\n", sm.at, sm.rss, sm.gor, sm.fds, sm.sent, l.Rate(last, now), sm.dlrs, sm.lost, sm.unanswered)
		last = now
	}
	load.Pause(true)
	_ = faults.WaitAnswered(load.Clients, 20*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for l.Counts().DLRLost > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	c := l.Counts()
	fmt.Printf("\nsubmits sent %d, answered %d [%s], unanswered %d; DLR expected %d, delivered %d, duplicated %d, lost %d\n",
		c.Sent, c.Answered, c.Statuses(), c.Unanswered, c.DLRExpected, c.DLRDelivered, c.DLRDup, c.DLRLost)

	var fit []sample
	for _, sm := range samples {
		if sm.at >= warmup {
			fit = append(fit, sm)
		}
	}
	if len(fit) < 3 {
		fmt.Printf("verdict: too few samples after the %v warm-up (%d) to fit a line\n", warmup, len(fit))
		return 0
	}
	growing := false
	for _, series := range []struct {
		name  string
		get   func(sample) float64
		slack float64 // growth over the run tolerated as flat, absolute
		rel   float64 // ... or relative to the mean
	}{
		{"rss_kib", func(s sample) float64 { return s.rss }, 4096, 0.10},
		{"goroutines", func(s sample) float64 { return s.gor }, 5, 0.05},
		{"fds", func(s sample) float64 { return s.fds }, 3, 0.05},
	} {
		xs, ys := make([]float64, len(fit)), make([]float64, len(fit))
		for i, sm := range fit {
			xs[i], ys[i] = sm.at.Hours(), series.get(sm)
		}
		slope, mean := linear(xs, ys)
		span := xs[len(xs)-1] - xs[0]
		growth := slope * span
		verdict := "flat"
		if growth > series.slack && growth > series.rel*mean {
			verdict = "GROWING"
			growing = true
		}
		fmt.Printf("%-10s mean %10.1f  slope %+10.1f/h  growth over the fitted %v %+9.1f  -> %s\n",
			series.name, mean, slope, time.Duration(span*float64(time.Hour)).Round(time.Second), growth, verdict)
	}
	if growing {
		fmt.Println("verdict: GROWING")
		return 1
	}
	if c.Unanswered > 0 || c.DLRLost > 0 {
		fmt.Println("verdict: flat, but submits unanswered or receipts lost")
		return 1
	}
	fmt.Println("verdict: flat")
	return 0
}

// linear returns the least-squares slope of ys over xs and the mean of ys.
func linear(xs, ys []float64) (slope, mean float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, sy / n
	}
	return (n*sxy - sx*sy) / d, sy / n
}

// soakTB is the faults.TB of the command: cleanups run at exit, in
// reverse; Fatalf prints and unwinds to run.
type soakTB struct {
	cleanups []func()
	dirs     int
	root     string
}

type fatal struct{}

func (*soakTB) Helper()                         {}
func (*soakTB) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (t *soakTB) Cleanup(f func())              { t.cleanups = append(t.cleanups, f) }
func (t *soakTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
	panic(fatal{})
}

func (t *soakTB) TempDir() string {
	if t.root == "" {
		d, err := os.MkdirTemp("", "soak-")
		if err != nil {
			t.Fatalf("%v", err)
		}
		t.root = d
		t.cleanups = append([]func(){func() { _ = os.RemoveAll(d) }}, t.cleanups...)
	}
	t.dirs++
	d := filepath.Join(t.root, fmt.Sprint(t.dirs))
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatalf("%v", err)
	}
	return d
}

func (t *soakTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
