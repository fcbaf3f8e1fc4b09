package mux_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/configcases"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// TestConfigSectionOwners checks that [server] and [upstream] are decoded
// into downstream.Config and upstream.Config and defaulted by them: a
// loaded config holds the values that run, and durations read as the
// mux's own do.
func TestConfigSectionOwners(t *testing.T) {
	src := strings.Replace(configcases.Base, `bind_timeout = "10s"`, "bind_timeout = \"3s\"\nwindow = 7", 1)
	cfg, err := mux.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, u := cfg.Server, cfg.Upstream
	if s.BindTimeout != 3*time.Second || s.Window != 7 || s.ResponseTimeout != 30*time.Second || s.MaxUnboundPerIP != 100 || s.MaxHeld != 10000 || s.SubmitWait.Std() != 5*time.Second {
		t.Errorf("[server]: %+v", s)
	}
	if u.Config.Bind != pdu.CmdBindTransceiver || u.Bind != "" || u.SessionsPerHost != 2 || u.Window != 50 || u.ResponseTimeout != 30*time.Second ||
		len(u.Config.Hosts) != 2 || u.Config.Hosts[1].Address != "127.0.0.1:2776" {
		t.Errorf("[upstream]: %+v", u)
	}
	if cfg.Store.DLRTTL.Std() != 72*time.Hour || cfg.Store.FinalTTL.Std() != time.Hour {
		t.Errorf("[store]: dlr_ttl %v, final_ttl %v", cfg.Store.DLRTTL, cfg.Store.FinalTTL)
	}
}

// TestConfigUpstreamProblems checks that the loader reports what
// upstream.Config.Problems finds, at the key's line: here a system_id
// longer than a bind carries, which the pool would refuse at start.
func TestConfigUpstreamProblems(t *testing.T) {
	src := strings.Replace(configcases.Base, `system_id = "acct"`, `system_id = "`+strings.Repeat("a", 65)+`"`, 1)
	_, err := mux.Parse([]byte(src))
	line := strings.Count(configcases.Base[:strings.Index(configcases.Base, `system_id = "acct"`)], "\n") + 1
	checkOneError(t, err, "upstream.system_id", line, "longer than 64 octets")
}
