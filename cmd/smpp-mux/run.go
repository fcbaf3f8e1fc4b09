package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/admin"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/sim"
)

func cmdRun(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("run", stdout)
	path := fs.String("config", "", "the config `FILE`; SIGHUP reads it again")
	if err := fs.parseConfig(args, path); err != nil {
		return err
	}
	cfg, err := mux.Load(*path)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	return serve(cfg, serveOptions{path: *path}, stderr)
}

// serveOptions are what serve needs beside the config.
type serveOptions struct {
	path string // the config file SIGHUP and POST /reload read again; "": none
	// ready, when set, is called once the listeners are open.
	ready func(*mux.Mux)
	// adminLn, when set, is the admin listener, opened by the caller at
	// cfg.Admin.Listen; else serve opens cfg.Admin.Listen when it is set.
	adminLn net.Listener
}

// serve runs the mux until SIGINT or SIGTERM, then shuts it down
// gracefully; SIGHUP reloads the config from o.path.
func serve(cfg *mux.Config, o serveOptions, stderr io.Writer) error {
	if o.adminLn != nil {
		defer o.adminLn.Close() // a no-op once the admin server has closed it
	}
	log, level, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("log.level: %w", err)}
	}
	defer func() { _ = log.Sync() }()
	m, err := mux.New(cfg, log)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := m.Start(); err != nil {
		_ = m.Shutdown(context.Background())
		return err
	}
	rl := &reloader{m: m, path: o.path, level: level, log: log}
	if ln := o.adminLn; ln != nil || cfg.Admin.Listen != "" {
		if ln == nil {
			if ln, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
				_ = m.Shutdown(context.Background())
				return fmt.Errorf("admin.listen: %w", err)
			}
		}
		as := admin.New(m, admin.Options{
			Reload:  func() error { return rl.reload("POST /reload") },
			Level:   &level,
			Token:   cfg.Admin.Token,
			Version: version,
		})
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := as.Serve(ln); err != nil {
				log.Error("admin server stopped", zap.Error(err))
			}
		}()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = as.Shutdown(ctx)
			<-served
		}()
		log.Info("admin listening", zap.Stringer("addr", ln.Addr()), zap.Bool("token", cfg.Admin.Token != ""))
	}
	log.Info("smpp-mux running", zap.Stringers("listen", addrs(m.Addrs())))
	if o.ready != nil {
		o.ready(m)
	}
	// A reload runs beside the signal loop: one that replaces upstream
	// sessions one at a time can take a while, and SIGTERM must not wait
	// for it (Shutdown stops it).
	var reloads sync.WaitGroup
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			reloads.Go(func() { _ = rl.reload("SIGHUP") })
			continue
		}
		log.Info("stopping", zap.Stringer("signal", sig))
		break
	}
	bound := cfg.Upstream.ResponseTimeout + 5*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		log.Warn("shutdown was not clean", zap.Error(err))
	}
	reloads.Wait()
	log.Info("stopped")
	return nil
}

func addrs(a []net.Addr) []fmt.Stringer {
	out := make([]fmt.Stringer, len(a))
	for i, x := range a {
		out[i] = x
	}
	return out
}

func cmdSimulate(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("simulate", stdout)
	listen := fs.String("listen", "", "`ADDR` to listen on, e.g. 127.0.0.1:2775")
	systemID := fs.String("system-id", "", "accept only this system_id, `ID` (empty: any credentials)")
	password := fs.String("password", "", "the password of --system-id, `PW`")
	dlrDelay := fs.Duration("dlr-delay", time.Second, "delay before each delivery receipt")
	latency := fs.Duration("latency", 0, "delay before each submit_sm_resp")
	rate := fs.Float64("rate", 0, "at most `N` submits per second; more get ESME_RTHROTTLED (0: unlimited)")
	enroute := fs.Bool("enroute", false, "send an ENROUTE receipt before DELIVRD")
	echo := fs.String("echo", echoNumber, "`NUMBER` whose messages come back to the sender as MOs; \"\" turns it off")
	trace := fs.Bool("trace", false, "print each submit_sm received, with its answer, every field and every TLV, on stdout")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *listen == "" {
		return flagErr("--listen ADDR is required")
	}
	cfg := sim.Config{DLRDelay: *dlrDelay, RespLatency: *latency, Rate: *rate, SendEnroute: *enroute, EchoNumber: *echo}
	if *trace {
		var mu sync.Mutex // one line at a time
		cfg.Trace = func(s sim.Submit) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(stdout, s)
		}
	}
	if *systemID != "" {
		cfg.Accounts = map[string]string{*systemID: *password}
	}
	lc := mux.LogConfig{Level: "info", Format: "console"}
	log, _, _ := newLogger(lc, stderr)
	cfg.Logger = log
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	s := sim.New(cfg)
	fmt.Fprintf(stdout, "simulator listening on %s\n", ln.Addr())
	return runUntilSignal(func() error { return s.Serve(ln) }, s.Shutdown)
}

// runUntilSignal runs serve until SIGINT/SIGTERM, then calls shutdown.
func runUntilSignal(serve func() error, shutdown func(context.Context) error) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-sigs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := shutdown(ctx)
	<-errc
	return err
}

// reloader reads the config file again and applies it, for SIGHUP and
// POST /reload alike. A config that is invalid, or changes what cannot
// change live, is refused with the reason and the running one is kept.
type reloader struct {
	mu    sync.Mutex // one reload at a time, so the config and the log level applied match
	m     *mux.Mux
	path  string // "" when the mux was not started from a file (demo)
	level zap.AtomicLevel
	log   *zap.Logger
}

// reload applies the file and sets the log level it names, overriding a
// level set at run time. via names the trigger in the log. The error is
// logged here and returned for POST /reload to answer.
func (r *reloader) reload(via string) error {
	if r.path == "" {
		err := errors.New("reload: this mux has no config file to reload")
		r.log.Warn("reload refused", zap.String("via", via), zap.Error(err))
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := mux.Load(r.path)
	if err == nil {
		err = r.m.Reload(cfg)
	}
	if err != nil {
		r.log.Error("reload refused; the running config is kept", zap.String("via", via), zap.Error(err))
		return err
	}
	if err := r.level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		r.log.Warn("log.level", zap.Error(err))
	}
	return nil
}
