package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddrIsFreeAndNotEphemeral(t *testing.T) {
	top := min(high, ephemeralStart())
	for range 20 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if top > low && (port < low || port >= top) {
			t.Fatalf("port %d outside [%d, %d)", port, low, top)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s not free: %v", addr, err)
		}
		ln.Close()
	}
}

func TestPortPair(t *testing.T) {
	const offset = 10000
	for range 10 {
		port, err := PortPair(offset)
		if err != nil {
			t.Fatal(err)
		}
		if top := min(high, ephemeralStart()); port < low || port+offset >= top {
			t.Fatalf("pair %d, %d outside [%d, %d)", port, port+offset, low, top)
		}
		for _, p := range []int{port, port + offset} {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				t.Fatalf("port %d not free: %v", p, err)
			}
			ln.Close()
		}
	}
}
