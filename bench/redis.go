package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/internal/freeport"
)

// redisProc is a redis-server the instances mode runs, in a child
// process so that its CPU time can be read from /proc.
type redisProc struct {
	cmd  *exec.Cmd
	addr string
	rdb  *goredis.Client // the harness's own connection: INFO, FLUSHALL
	done chan error
}

// startRedis runs redis-server from PATH on a free 127.0.0.1 port with
// its data in dir: append-only file with the given appendfsync, no RDB
// snapshots. It returns once the server answers PING.
func startRedis(dir, appendfsync string) (*redisProc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("the instances mode needs redis-server on PATH: %w", err)
	}
	var lastErr error
	for range 3 { // a port picked free can be taken before the server binds it
		port, err := freeport.Port()
		if err != nil {
			return nil, err
		}
		r, err := runRedis(bin, dir, port, appendfsync)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func runRedis(bin, dir string, port int, appendfsync string) (*redisProc, error) {
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", appendfsync,
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &redisProc{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait() }()
	r.rdb = goredis.NewClient(&goredis.Options{Addr: r.addr, DisableIdentity: true})
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := r.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return r, nil
		}
		select {
		case werr := <-r.done:
			_ = r.rdb.Close()
			return nil, fmt.Errorf("redis-server exited (%v); see redis.log in the scratch directory", werr)
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server on %s: no PING answer in 10s: %w", r.addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting subprocess
	}
}

func (r *redisProc) stop() {
	_ = r.rdb.Close()
	_ = r.cmd.Process.Kill()
	<-r.done
}

func (r *redisProc) cpu() time.Duration { return procCPU(r.cmd.Process.Pid) }

// flush empties the server between runs, so that each run starts alike.
func (r *redisProc) flush(ctx context.Context) error {
	return r.rdb.FlushAll(ctx).Err()
}

// cmdStat is one command's line of INFO commandstats.
type cmdStat struct {
	Calls int64   `json:"calls"`
	Usec  float64 `json:"usec"`
}

// commandStats reads INFO commandstats: calls and time per command,
// commands run by scripts included (EVALSHA counts once, and so does
// every command its script runs). INFO itself is left out.
func (r *redisProc) commandStats(ctx context.Context) (map[string]cmdStat, error) {
	info, err := r.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]cmdStat{}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, ok2 := strings.CutPrefix(name, "cmdstat_")
		if !ok || !ok2 || name == "info" {
			continue
		}
		var st cmdStat
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				st.Calls, _ = strconv.ParseInt(v, 10, 64)
			case "usec":
				st.Usec, _ = strconv.ParseFloat(v, 64)
			}
		}
		out[name] = st
	}
	return out, nil
}

// statsDelta returns b - a per command, leaving out commands that did
// not run in between.
func statsDelta(a, b map[string]cmdStat) map[string]cmdStat {
	out := map[string]cmdStat{}
	for k, v := range b {
		d := cmdStat{Calls: v.Calls - a[k].Calls, Usec: v.Usec - a[k].Usec}
		if d.Calls > 0 {
			out[k] = d
		}
	}
	return out
}

// cmdProxy forwards TCP connections to a Redis server and counts the
// commands clients send on them (RESP arrays, or inline commands): what
// the muxes send, where INFO commandstats also counts what their scripts
// run. Replies pass through untouched.
type cmdProxy struct {
	ln     net.Listener
	target string
	cmds   atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{} // guarded by mu; nil once closed
	wg    sync.WaitGroup
}

func startProxy(target string) (*cmdProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &cmdProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	return p, nil
}

func (p *cmdProxy) addr() string { return p.ln.Addr().String() }

func (p *cmdProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.handle(c) })
	}
}

// track remembers c for close; it reports false once the proxy closed.
func (p *cmdProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *cmdProxy) handle(c net.Conn) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	if !p.track(c) || !p.track(u) {
		return
	}
	p.wg.Go(func() {
		_, _ = io.Copy(c, u)
		_ = c.Close()
	})
	_ = p.forward(c, u)
	_ = u.Close()
}

// forward copies commands from src to dst, counting them, and flushes
// whenever src has nothing more buffered.
func (p *cmdProxy) forward(src io.Reader, dst io.Writer) error {
	br := bufio.NewReaderSize(src, 64<<10)
	bw := bufio.NewWriterSize(dst, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if _, err := bw.Write(line); err != nil {
			return err
		}
		p.cmds.Add(1)
		if line[0] == '*' {
			if err := copyArgs(br, bw, line); err != nil {
				return err
			}
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}

// copyArgs copies the bulk strings of a RESP array whose header line
// ("*N\r\n") was copied already.
func copyArgs(br *bufio.Reader, bw *bufio.Writer, header []byte) error {
	n, err := strconv.Atoi(strings.TrimSpace(string(header[1:])))
	if err != nil {
		return fmt.Errorf("bad array header %q", header)
	}
	for range n {
		l, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if _, err := bw.Write(l); err != nil {
			return err
		}
		if l[0] != '$' {
			return fmt.Errorf("bad bulk header %q", l)
		}
		size, err := strconv.Atoi(strings.TrimSpace(string(l[1:])))
		if err != nil {
			return fmt.Errorf("bad bulk header %q", l)
		}
		if _, err := io.CopyN(bw, br, int64(size)+2); err != nil {
			return err
		}
	}
	return nil
}

// close stops accepting, closes every connection and waits for the
// goroutines.
func (p *cmdProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
}
