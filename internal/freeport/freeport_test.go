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
