package redistest

import (
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	addr, _, _ := Start(t)
	if got, err := command(addr, "PING"); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
}

func TestStartCluster(t *testing.T) {
	addrs := StartCluster(t)
	for _, a := range addrs {
		info, err := command(a, "CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_known_nodes:3") || !strings.Contains(info, "cluster_slots_ok:16384") {
			t.Fatalf("CLUSTER INFO on %s = %q, %v", a, info, err)
		}
	}
}

func TestStartSentinel(t *testing.T) {
	sentinel, master := StartSentinel(t)
	got, err := command(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster)
	if err != nil || strings.ReplaceAll(got, " ", ":") != master {
		t.Fatalf("sentinel names %q, %v; want %s", got, err, master)
	}
}
