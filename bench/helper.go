package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smpp-mux/smpp-mux/mux"
	_ "github.com/smpp-mux/smpp-mux/plugins/standard" // store and rule modules
)

// The mux runs in a process of its own so that its CPU time and RSS can
// be read from /proc. The harness starts its own executable again with
// these variables set; nothing else in the environment selects the mode.
const (
	envHelper = "SMPPMUX_BENCH_HELPER" // "mux": run only the mux
	envConfig = "SMPPMUX_BENCH_CONFIG" // the TOML file of the mux
)

// helperMain runs the mux from the config in envConfig, prints
// "ready <addr>" once its upstream sessions are bound, then obeys one
// command per stdin line (answering one line each) until "quit" or EOF:
//
//	cpuprofile PATH | cpuprofile-stop | heap PATH | goroutines PATH | gc | stats | quit
func helperMain() int {
	raiseNoFile()
	cfg, err := mux.Load(os.Getenv(envConfig))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench helper:", err)
		return 2
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	zc.Sampling = &zap.SamplingConfig{Initial: 10, Thereafter: 1000}
	log, _ := zc.Build()
	defer func() { _ = log.Sync() }()
	m, err := mux.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench helper: new:", err)
		return 1
	}
	if err := m.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench helper: start:", err)
		_ = m.Shutdown(context.Background())
		return 1
	}
	want := len(cfg.Upstream.Hosts) * cfg.Upstream.SessionsPerHost
	for deadline := time.Now().Add(20 * time.Second); m.UpstreamBound() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("ready %s %d\n", m.Addrs()[0], m.UpstreamBound())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	lines := make(chan string)
	go func() { // ends with the process
		defer close(lines)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var prof *os.File
loop:
	for {
		var line string
		var ok bool
		select {
		case <-sigs:
			break loop
		case line, ok = <-lines:
			if !ok {
				break loop
			}
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "cpuprofile":
			f, err := os.Create(arg)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			prof = f
			fmt.Println("ok")
		case "cpuprofile-stop":
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
				prof = nil
			}
			fmt.Println("ok")
		case "heap":
			runtime.GC()
			f, err := os.Create(arg)
			if err == nil {
				err = pprof.WriteHeapProfile(f)
				f.Close()
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			fmt.Println("ok")
		case "goroutines":
			f, err := os.Create(arg)
			if err == nil {
				err = pprof.Lookup("goroutine").WriteTo(f, 1)
				f.Close()
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			fmt.Println("ok")
		case "gc":
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Println("ok")
		case "stats":
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b, _ := json.Marshal(helperStats{
				Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse,
				Sys: ms.Sys, Upstream: m.UpstreamBound(),
				HeapUnreleased: ms.HeapIdle - ms.HeapReleased, Runtime: ms.MSpanSys + ms.MCacheSys + ms.BuckHashSys + ms.GCSys + ms.OtherSys,
			})
			fmt.Println(string(b))
		case "quit":
			break loop
		default:
			fmt.Println("error unknown command")
		}
	}
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench helper: shutdown:", err)
	}
	return 0
}

// helperStats is the answer to "stats".
type helperStats struct {
	Goroutines int    `json:"goroutines"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Upstream   int    `json:"upstream"`
	// Free heap pages not yet returned to the OS, and the runtime's own
	// structures (spans, GC metadata, profiling buckets).
	HeapUnreleased uint64 `json:"heap_unreleased"`
	Runtime        uint64 `json:"runtime"`
}

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit: 10,000
// binds need 10,000 descriptors on each side.
func raiseNoFile() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur
}
