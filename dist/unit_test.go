// Package dist holds what installs smpp-mux on a host; its test checks
// the systemd unit.
package dist

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// unit parses a systemd unit file into its keys' values by section,
// "Section.Key", in order; a key may repeat.
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value in a section: %q", path, n, line)
			}
			out[section+"."+strings.TrimSpace(k)] = append(out[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUnitHardened checks the keys the service relies on and its
// hardening, then has systemd-analyze verify the unit against a binary
// built from this tree, where it is installed (in CI, env CI set, it must
// be).
func TestUnitHardened(t *testing.T) {
	u := unit(t, "smpp-mux.service")
	want := map[string]string{
		"Service.Type":                     "simple", // no sd_notify
		"Service.ExecStart":                "/usr/local/bin/smpp-mux run --config /etc/smpp-mux/smpp-mux.toml",
		"Service.ExecReload":               "/bin/kill -HUP $MAINPID",
		"Service.Restart":                  "on-failure",
		"Service.RestartPreventExitStatus": "2", // a config error
		"Service.DynamicUser":              "yes",
		"Service.User":                     "smpp-mux",
		"Service.Group":                    "smpp-mux",
		"Service.StateDirectory":           "smpp-mux",
		"Service.WorkingDirectory":         "/var/lib/smpp-mux",
		"Service.LimitNOFILE":              "65536",
		"Service.CapabilityBoundingSet":    "",
		"Service.AmbientCapabilities":      "",
		"Service.NoNewPrivileges":          "yes",
		"Service.ProtectSystem":            "strict",
		"Service.ProtectHome":              "yes",
		"Service.PrivateTmp":               "yes",
		"Service.PrivateDevices":           "yes",
		"Service.ProtectKernelTunables":    "yes",
		"Service.ProtectKernelModules":     "yes",
		"Service.ProtectKernelLogs":        "yes",
		"Service.RestrictAddressFamilies":  "AF_INET AF_INET6 AF_UNIX",
		"Service.LockPersonality":          "yes",
		"Service.MemoryDenyWriteExecute":   "yes",
		"Install.WantedBy":                 "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if f := u["Service.SystemCallFilter"]; !slices.Contains(f, "@system-service") {
		t.Errorf("SystemCallFilter = %q, want @system-service among them", f)
	}
	// Shutdown waits up to [upstream] response_timeout (default 30s) + 5s.
	if d, err := time.ParseDuration(strings.Join(u["Service.TimeoutStopSec"], "")); err != nil || d < 35*time.Second {
		t.Errorf("TimeoutStopSec = %q (%v), want at least response_timeout + 5s = 35s", u["Service.TimeoutStopSec"], err)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze not found; CI installs it with: apt-get install -y systemd")
		}
		t.Skip("systemd-analyze not found (apt-get install -y systemd)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "smpp-mux")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/smpp-mux").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, err := os.ReadFile("smpp-mux.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's binary exists: point it at ours.
	copyPath := filepath.Join(dir, "smpp-mux.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/smpp-mux", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	// It exits 0 on an unknown key, only saying so: any line about the
	// unit fails the test; lines about the host's other units are logged.
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || strings.Contains(string(out), "smpp-mux.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if len(out) > 0 {
		t.Logf("systemd-analyze verify, about other units:\n%s", out)
	}
}
