package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/freeport"
)

// busOffset is how far above its port a cluster node listens for the
// cluster bus (Redis's fixed default).
const busOffset = 10000

// clusterSize is the number of masters StartCluster runs: the fewest
// redis-cli --cluster create accepts.
const clusterSize = 3

// StartCluster runs a Redis Cluster of three masters without replicas on
// 127.0.0.1 (each node's port and port+10000, its bus, picked free at run
// time), joins them with redis-cli --cluster create, waits until every
// node reports cluster_state:ok, and returns the nodes' addresses.
// t.Cleanup stops them. It skips (or under CI fails) like Start when
// redis-server or redis-cli is missing.
func StartCluster(t testing.TB) []string {
	t.Helper()
	bin := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")
	nodes := make([]*server, clusterSize)
	addrs := make([]string, clusterSize)
	for i := range nodes {
		s := &server{t: t, bin: bin, dir: t.TempDir()}
		s.cfg.args = []string{"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", "5000"}
		t.Cleanup(s.stop)
		var lastErr error
		for range 3 { // a port picked free can be taken before the server binds it
			port, err := freeport.PortPair(busOffset)
			if err != nil {
				t.Fatalf("redistest: pick a port: %v", err)
			}
			s.port = port
			if lastErr = s.start(); lastErr == nil {
				break
			}
			s.stop()
		}
		if lastErr != nil {
			t.Fatalf("redistest: cluster node %d: %v", i, lastErr)
		}
		nodes[i], addrs[i] = s, s.addr()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 2000))
	}
	deadline := time.Now().Add(startTimeout)
	for _, a := range addrs {
		for {
			info, err := command(a, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster node %s not ok within %v: %v %q", a, startTimeout, err, info)
			}
			time.Sleep(20 * time.Millisecond) // polling a cluster that converges
		}
	}
	return addrs
}

// SentinelMaster is the master name StartSentinel's Sentinel monitors.
const SentinelMaster = "mymaster"

// StartSentinel runs a Redis master and one Sentinel monitoring it under
// the name SentinelMaster (quorum 1), both on free 127.0.0.1 ports, and
// returns the Sentinel's address and the master's. It returns once the
// Sentinel names the master. t.Cleanup stops both.
func StartSentinel(t testing.TB) (sentinel, master string) {
	t.Helper()
	master, _, _ = Start(t)
	s := &server{t: t, bin: lookPath(t, "redis-server"), dir: t.TempDir()}
	conf := filepath.Join(s.dir, "sentinel.conf")
	host, port, _ := net.SplitHostPort(master)
	text := fmt.Sprintf("sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n",
		SentinelMaster, host, port, SentinelMaster)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil { // Sentinel rewrites it
		t.Fatalf("redistest: %v", err)
	}
	s.cfg.conf = conf
	s.cfg.args = []string{"--sentinel"}
	t.Cleanup(s.stop)
	var lastErr error
	for range 3 {
		p, err := freeport.Port()
		if err != nil {
			t.Fatalf("redistest: pick a port: %v", err)
		}
		s.port = p
		if lastErr = s.start(); lastErr == nil {
			break
		}
		s.stop()
	}
	if lastErr != nil {
		t.Fatalf("redistest: sentinel: %v", lastErr)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		got, err := command(s.addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster)
		if err == nil && got == host+" "+port {
			return s.addr(), master
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: sentinel does not name the master within %v: %v %q", startTimeout, err, got)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting subprocess
	}
}

// command sends one command and returns its reply as text: a simple or
// bulk string as is, an array's elements joined by spaces; an error
// reply is an error.
func command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

// readReply reads one RESP2 reply of the kinds command needs.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("%s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, " "), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
