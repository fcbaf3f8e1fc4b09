// Command bench is the load generator and benchmark harness of smpp-mux.
//
// In one run it drives client binds with a window of submit_sm against the
// simulator (sim, in this process), directly, through the mux and through
// a reference proxy (-reference; by default trivproxy beside the
// checkout), interleaved (direct, mux, reference, direct, ...), and
// reports throughput, latency percentiles, CPU seconds per million
// messages and peak RSS of the mux and of the reference, and their ratio.
// The mux runs in a child process (this executable started again with
// SMPPMUX_BENCH_HELPER=mux) so that its CPU and memory are its own; the
// reference is built once with go build and runs as a child too.
//
//	go run ./bench                           # every mode, ~9 minutes; results and plots under bench/
//	go run ./bench -reference none           # without the reference path
//	go run ./bench -mode smoke -duration 2s  # each mode briefly; for CI
//	go run ./bench -mode proxy -profile DIR
//
// Modes: proxy, receipts, idle, scaling, rules, instances, all, smoke.
// See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(envHelper) == "mux" {
		os.Exit(helperMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

// options are the flags.
type options struct {
	mode        string
	reps        int
	scalingReps int
	duration    time.Duration // measure window of one run
	warmup      time.Duration
	conns       int
	window      int
	sessions    int // upstream sessions per host; two hosts
	upWindow    int
	downWindow  int
	simWindow   int
	dlrDelay    time.Duration
	dlrCap      int
	dlrDrain    time.Duration
	idleBinds   int
	idleClients int
	idleSettle  time.Duration
	few         shape // second closed-loop proxy shape; conns 0: none
	reference   string
	fractions   []float64 // of the mux's peak, for paced runs
	steps       []scalingStep
	out         string
	profileDir  string
	keep        bool
	trace       bool // instances mode: [store] trace of the muxes
}

// shape is a closed-loop load: binds x window.
type shape struct{ conns, window int }

var defaultSteps = []scalingStep{{1, 1, 1}, {4, 4, 1}, {16, 16, 2}, {64, 16, 4}, {256, 16, 8}, {1000, 16, 8}}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.mode, "mode", "all", "proxy | receipts | idle | scaling | rules | instances | all | smoke (comma-separated list allowed; instances needs redis-server)")
	fs.IntVar(&o.reps, "reps", 3, "interleaved repetitions of each direct/mux pair")
	fs.IntVar(&o.scalingReps, "scaling-reps", 1, "repetitions per scaling step")
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "measure window of one run (smoke: the whole smoke's rough budget)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "load before the measure window")
	fs.IntVar(&o.conns, "conns", 16, "client binds (proxy, receipts, rules)")
	fs.IntVar(&o.window, "window", 16, "submit_sm in flight per client bind")
	fs.IntVar(&o.sessions, "sessions", 2, "mux upstream sessions per host (two simulated hosts)")
	fs.IntVar(&o.upWindow, "upstream-window", 64, "mux [upstream] window")
	fs.IntVar(&o.downWindow, "server-window", 10, "mux [server] window: deliver_sm in flight per client bind")
	fs.IntVar(&o.simWindow, "sim-window", 100, "simulator deliver_sm window per session")
	fs.DurationVar(&o.dlrDelay, "dlr-delay", 50*time.Millisecond, "simulator delay from submit_sm_resp to receipt")
	fs.IntVar(&o.dlrCap, "dlr-cap", 2048, "receipts mode: submits per bind awaiting their receipt before the bind waits")
	fs.DurationVar(&o.dlrDrain, "dlr-drain", 30*time.Second, "receipts mode: how long to wait for the last receipts after a run")
	fs.IntVar(&o.idleBinds, "idle-binds", 10000, "downstream binds held open in idle mode")
	fs.IntVar(&o.idleClients, "idle-clients", 50, "idle mode: accounts the binds are spread over")
	fs.DurationVar(&o.idleSettle, "idle-settle", 3*time.Second, "wait before reading RSS at each idle step (no GC is forced)")
	few := fs.String("few", "4:64", "proxy mode: a second closed-loop shape binds:window (\"\": none)")
	fs.StringVar(&o.reference, "reference", "auto", "reference proxy with trivproxy's flags, run as a third path: a Go package directory, \"go run DIR\", or a binary path (+ args); auto: "+defaultReference+" beside the checkout if there; none: no reference")
	fracs := fs.String("fractions", "0.25,0.5,0.75", "paced runs at these fractions of the mux's closed-loop peak (proxy)")
	steps := fs.String("steps", "", "scaling steps conns:window:sessions_per_host,... (default 1:1:1,4:4:1,16:16:2,64:16:4,256:16:8,1000:16:8)")
	fs.StringVar(&o.out, "out", "bench", "directory for results.json, results.md and the PNG plots")
	fs.StringVar(&o.profileDir, "profile", "", "directory for CPU profiles of the mux (and a heap profile in idle mode)")
	rerender := fs.String("rerender", "", "write results.md and the plots under -out again from this results.json, running nothing")
	fs.BoolVar(&o.trace, "trace", true, "instances mode: keep each message's history in Redis ([store] trace); -trace=false measures without it")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (configs, mux logs, bolt files)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	for f := range strings.SplitSeq(*fracs, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || v > 1 {
			return usageError{fmt.Errorf("-fractions: bad value %q", f)}
		}
		o.fractions = append(o.fractions, v)
	}
	if *few != "" {
		if _, err := fmt.Sscanf(*few, "%d:%d", &o.few.conns, &o.few.window); err != nil || o.few.conns < 1 || o.few.window < 1 {
			return usageError{fmt.Errorf("-few: bad shape %q", *few)}
		}
	}
	o.steps = defaultSteps
	if *steps != "" {
		o.steps = nil
		for s := range strings.SplitSeq(*steps, ",") {
			var st scalingStep
			if _, err := fmt.Sscanf(s, "%d:%d:%d", &st.conns, &st.window, &st.sessionsPerHost); err != nil || st.conns < 1 || st.window < 1 || st.sessionsPerHost < 1 {
				return usageError{fmt.Errorf("-steps: bad step %q", s)}
			}
			o.steps = append(o.steps, st)
		}
	}
	if o.reps < 1 || o.conns < 1 || o.window < 1 || o.sessions < 1 || o.duration <= 0 || o.idleClients < 1 {
		return usageError{errors.New("-reps, -conns, -window, -sessions, -idle-clients and -duration must be positive")}
	}
	if *rerender != "" {
		b := &bench{o: o}
		return b.rerender(*rerender, stdout)
	}
	modes := strings.Split(o.mode, ",")
	if o.mode == "all" {
		modes = []string{"proxy", "receipts", "rules", "scaling", "idle"}
	}
	if o.mode == "smoke" {
		modes = []string{"proxy", "receipts", "rules", "scaling", "idle"}
		o.smokeDefaults()
	}
	nofile := raiseNoFile()
	if o.idleBinds+200 > int(nofile) && slicesContains(modes, "idle") {
		return fmt.Errorf("idle: RLIMIT_NOFILE is %d, %d binds need more", nofile, o.idleBinds)
	}
	dir, err := os.MkdirTemp("", "smpp-mux-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "scratch directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	b := &bench{o: o, ctx: ctx, dir: dir, logf: func(format string, args ...any) {
		fmt.Fprintf(stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}}
	started := time.Now()
	if b.ref, b.refNote, err = resolveReference(o.reference, dir); err != nil {
		return err
	}
	if b.ref != nil {
		b.logf("reference: %s (%s)", b.ref.name, b.ref.desc)
	} else {
		b.logf("%s", b.refNote)
	}
	b.logf("bench %s: %d binds x window %d, %d upstream sessions (window %d), %d reps, %v per run", o.mode, o.conns, o.window, 2*o.sessions, o.upWindow, o.reps, o.duration)
	for _, m := range modes {
		var err error
		switch strings.TrimSpace(m) {
		case "proxy":
			err = b.proxy()
		case "receipts":
			err = b.receipts()
		case "rules":
			err = b.rules()
		case "scaling":
			err = b.scaling()
		case "idle":
			err = b.idleMode()
		case "instances":
			err = b.instances(stdout)
		default:
			return usageError{fmt.Errorf("unknown mode %q", m)}
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b.logf("done in %v", time.Since(started).Round(time.Second))
	if o.mode == "smoke" {
		fmt.Fprint(stdout, b.markdown())
		return nil
	}
	if len(b.rows) == 0 && len(b.idle) == 0 {
		return nil // instances alone: its table is printed, results.json kept
	}
	return b.write(stdout, started)
}

// smokeDefaults shrinks every mode to run in a few seconds in all; the
// numbers it prints mean nothing.
func (o *options) smokeDefaults() {
	per := max(o.duration/10, 150*time.Millisecond)
	o.duration, o.warmup = per, per/2
	o.reps, o.scalingReps = 1, 1
	o.conns, o.window = 4, 4
	o.sessions = 1
	o.fractions = []float64{0.5}
	o.steps = []scalingStep{{1, 1, 1}, {8, 4, 1}}
	o.few = shape{2, 8}
	o.idleBinds, o.idleClients = 200, 10
	o.idleSettle = 50 * time.Millisecond
	o.dlrDelay = 5 * time.Millisecond
	o.dlrDrain = 3 * time.Second
	o.out = ""
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if strings.TrimSpace(x) == v {
			return true
		}
	}
	return false
}
