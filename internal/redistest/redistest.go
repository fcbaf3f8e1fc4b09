// Package redistest starts a throwaway redis-server for tests, shaped like
// httptest: Start picks a free 127.0.0.1 port at run time, runs
// redis-server as a subprocess in a temporary directory, and t.Cleanup
// kills it. Packages that need a Redis (store/redis, multi-instance mux
// tests) share it.
//
// StartCluster runs a Redis Cluster of three masters (no replicas), and
// StartSentinel a master watched by one Sentinel, for tests of the store
// against those deployments.
//
// When the redis-server binary is not on PATH, Start skips the test; when
// the environment variable CI is set, it fails it instead, so that CI
// never passes by skipping.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/freeport"
)

// startTimeout bounds the wait for a started server to answer PING.
const startTimeout = 10 * time.Second

// Option changes how Start runs the server.
type Option func(*config)

type config struct {
	appendOnly bool
	args       []string // more redis-server arguments (cluster mode)
	conf       string   // config file given first (sentinel mode)
}

// AppendOnly runs the server with appendonly yes and appendfsync always,
// so that a restart keeps every write it acknowledged.
func AppendOnly() Option { return func(c *config) { c.appendOnly = true } }

// server is one redis-server subprocess, started again on the same port
// and directory by restart.
type server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cfg  config

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd  // nil while stopped
}

// Start runs a redis-server and returns its address (host:port); stop
// kills it (again: a no-op), and restart kills it if it runs and starts
// it again on the same port and data directory, returning once it answers
// PING. Both are safe to call from the test goroutine only; t.Cleanup
// stops the server.
func Start(t testing.TB, opts ...Option) (addr string, stop func(), restart func()) {
	t.Helper()
	s := &server{t: t, bin: lookPath(t, "redis-server"), dir: t.TempDir()}
	for _, o := range opts {
		o(&s.cfg)
	}
	t.Cleanup(s.stop)
	var lastErr error
	for range 3 { // a port picked free can be taken before the server binds it
		port, err := freeport.Port()
		if err != nil {
			t.Fatalf("redistest: pick a port: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return s.addr(), s.stop, s.restart
		}
		s.stop()
	}
	t.Fatalf("redistest: %v", lastErr)
	return "", nil, nil
}

// lookPath finds a program the tests need: it skips the test when the
// program is missing, or fails it when the environment variable CI is set.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redistest: %s not found on PATH (CI is set, so not skipping): %v", name, err)
		}
		t.Skipf("redistest: %s not found on PATH: %v", name, err)
	}
	return bin
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start runs the server and waits until it answers PING.
func (s *server) start() error {
	aof := "no"
	if s.cfg.appendOnly {
		aof = "yes"
	}
	logPath := filepath.Join(s.dir, "redis.log")
	var args []string
	if s.cfg.conf != "" {
		args = append(args, s.cfg.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", aof, "--appendfsync", "always",
		"--daemonize", "no", "--logfile", logPath)
	cmd := exec.Command(s.bin, append(args, s.cfg.args...)...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	addr := s.addr()
	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("redis-server on %s did not answer PING within %v: %v; log:\n%s", addr, startTimeout, err, tail(string(b), 2000))
		}
		time.Sleep(20 * time.Millisecond) // polling a starting subprocess
	}
}

// ping sends PING and expects +PONG (not -LOADING while an AOF loads).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// stop kills the server (SIGKILL: what the store must survive is a crash)
// and waits for it to exit.
func (s *server) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

func (s *server) restart() {
	s.t.Helper()
	s.stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
