// Package freeport finds a free TCP port on 127.0.0.1 for a process that a
// test starts and that must be told its address in advance (a config
// file, a command line).
//
// A port from net.Listen("127.0.0.1:0") is an ephemeral one: between
// closing it and the child binding it, any outgoing connection on the
// machine may take it as its source port, and the child then fails with
// "address already in use". Ports below the ephemeral range are never
// handed out that way, so Addr picks one of those at random and checks
// that it is free.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Bounds of the ports Addr tries; the top is lowered to the start of the
// system's ephemeral range when that is lower.
const (
	low  = 20000
	high = 32768 // Linux's default ephemeral range starts here
)

// Addr returns "127.0.0.1:PORT" with a port that is free now and outside
// the ephemeral range. When none is found, it falls back to an ephemeral
// port.
func Addr() (string, error) {
	top := min(high, ephemeralStart())
	if top > low {
		for range 50 {
			port := low + rand.IntN(top-low)
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				continue
			}
			addr := ln.Addr().String()
			if err := ln.Close(); err != nil {
				return "", err
			}
			return addr, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("freeport: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Port is Addr's port as a number.
func Port() (int, error) {
	addr, err := Addr()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(addr)
	return strconv.Atoi(p)
}

// PortPair returns a port such that both it and port+offset are free now
// and outside the ephemeral range: a Redis Cluster node listens on its
// port and on port+10000 for the cluster bus. It fails when no such pair
// is found, rather than falling back to ephemeral ports.
func PortPair(offset int) (int, error) {
	top := min(high, ephemeralStart()) - offset
	if top <= low {
		return 0, fmt.Errorf("freeport: no room for a pair %d apart below port %d", offset, top+offset)
	}
	for range 100 {
		port := low + rand.IntN(top-low)
		if free(port) && free(port+offset) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("freeport: no free pair %d apart in [%d, %d)", offset, low, top+offset)
}

// free reports whether 127.0.0.1:port can be listened on now.
func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	return ln.Close() == nil
}

// ephemeralStart returns the first port of Linux's ephemeral range, or
// high where it cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return high
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return high
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return high
	}
	return n
}
