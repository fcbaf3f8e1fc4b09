package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// flagsOf are the flags each command's --help must list.
var flagsOf = map[string][]string{
	"run":           {"--config FILE"},
	"validate":      {"--config FILE"},
	"demo":          {"--listen ADDR", "--admin ADDR", "--dlr-delay duration"},
	"simulate":      {"--listen ADDR", "--system-id ID", "--password PW", "--dlr-delay duration", "--latency duration", "--rate N", "--enroute", "--echo NUMBER"},
	"modules":       {"--json"},
	"hash-password": {"--cost N"},
	"version":       nil,
}

func TestHelp(t *testing.T) {
	t.Parallel()
	if len(flagsOf) != len(commands) {
		t.Fatalf("flagsOf lists %d commands, commands %d", len(flagsOf), len(commands))
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {c.name, "-help"}, {"help", c.name}} {
			code, out, errs := runCmd(t, "", args...)
			if code != 0 || errs != "" || !strings.HasPrefix(out, "usage: smpp-mux "+c.name) || !strings.Contains(out, "  -h, --help ") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and the help on stdout", args, code, out, errs)
				continue
			}
			for _, f := range flagsOf[c.name] {
				if !strings.Contains(out, "\n  "+f+" ") {
					t.Errorf("%v does not list %s:\n%s", args, f, out)
				}
			}
			for line := range strings.Lines(out) {
				if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.HasPrefix(strings.TrimSpace(line), "--") &&
					!strings.HasPrefix(strings.TrimSpace(line), "-h, --help") {
					t.Errorf("%v: a single-dash flag: %q", args, line)
				}
			}
		}
	}
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out, errs := runCmd(t, "", arg)
		if code != 0 || errs != "" || !strings.Contains(out, "--version") {
			t.Fatalf("smpp-mux %s: exit %d, %q %q", arg, code, out, errs)
		}
		for _, c := range commands {
			if !strings.Contains(out, "\n  "+c.name) {
				t.Errorf("smpp-mux %s does not list %s", arg, c.name)
			}
		}
	}
}

func TestUnknownFlag(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		for _, flag := range []string{"--no-such-flag", "-no-such-flag"} {
			code, out, errs := runCmd(t, "", c.name, flag)
			if code != 2 || out != "" || !strings.Contains(errs, "unknown flag --no-such-flag") ||
				!strings.Contains(errs, "\nusage: smpp-mux "+c.name) {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want 2 with a usage line", c.name, flag, code, out, errs)
			}
		}
	}
	if code, _, errs := runCmd(t, "", "modules", "extra"); code != 2 || !strings.Contains(errs, `unexpected argument "extra"`) || !strings.Contains(errs, "usage: smpp-mux modules") {
		t.Errorf("modules extra: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd(t, "", "run", "--config"); code != 2 || !strings.Contains(errs, "flag needs an argument: --config") {
		t.Errorf("run --config without a value: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd(t, "", "--bogus"); code != 2 || !strings.Contains(errs, `unknown flag "--bogus"`) {
		t.Errorf("smpp-mux --bogus: exit %d, %q", code, errs)
	}
	// A config error is not a usage error: no usage line.
	if code, _, errs := runCmd(t, "", "validate", "--config", writeConfig(t, "[server\n")); code != 2 || strings.Contains(errs, "usage:") {
		t.Errorf("validate of a broken file: exit %d, %q", code, errs)
	}
}

// Flags given with one dash, as they worked before the help said --, still work.
func TestSingleDashFlags(t *testing.T) {
	t.Parallel()
	good := writeConfig(t, fmt.Sprintf(minimal, "127.0.0.1:2775"))
	if code, out, errs := runCmd(t, "", "validate", "-config", good); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("validate -config: exit %d, %q %q", code, out, errs)
	}
	if code, out, errs := runCmd(t, "", "validate", "-config="+good); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("validate -config=FILE: exit %d, %q %q", code, out, errs)
	}
}

// The config file may be given as the one argument of validate and run,
// before or after the flags; given twice, or missing, it is a usage error
// (exit 2, with the usage line).
func TestConfigFileArgument(t *testing.T) {
	t.Parallel()
	good := writeConfig(t, fmt.Sprintf(minimal, "127.0.0.1:2775"))
	if code, out, errs := runCmd(t, "", "validate", good); code != 0 || out != good+": valid\n" || errs != "" {
		t.Errorf("validate FILE: exit %d, %q %q", code, out, errs)
	}
	broken := writeConfig(t, "[server\n")
	if code, _, errs := runCmd(t, "", "validate", broken); code != 2 || !strings.Contains(errs, "config: line 2: expected") || strings.Contains(errs, "usage:") {
		t.Errorf("validate BROKEN: exit %d, %q; want 2, the line, no usage", code, errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate"}, "a config file is required: --config FILE, or FILE"},
		{[]string{"run"}, "a config file is required: --config FILE, or FILE"},
		{[]string{"validate", "--config", good, "other.toml"}, fmt.Sprintf("the config file given twice: --config %q and %q", good, "other.toml")},
		{[]string{"validate", "other.toml", "--config", good}, fmt.Sprintf("the config file given twice: --config %q and %q", good, "other.toml")},
		{[]string{"run", good, "other.toml"}, `unexpected argument "other.toml"`},
		{[]string{"validate", good, "--bogus"}, `unknown flag --bogus`},
	} {
		code, out, errs := runCmd(t, "", tc.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "usage: smpp-mux "+tc.args[0]) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q with the usage", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"version", "--version", "-version"} {
		code, out, errs := runCmd(t, "", arg)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || errs != "" || len(lines) != 3 || !strings.HasPrefix(lines[0], "smpp-mux ") ||
			!strings.HasPrefix(lines[1], "commit: ") || !strings.HasPrefix(lines[2], "go: "+runtime.Version()+" ") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errs)
		}
	}
	if code, _, _ := runCmd(t, "", "version", "extra"); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
}

func TestVersionText(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "63b39ba0123456789abcdef0123456789abcdef0"},
		{Key: "vcs.time", Value: "2026-12-07T04:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	want := "smpp-mux devel\ncommit: 63b39ba0123456789abcdef0123456789abcdef0 (2026-12-07T04:00:00Z, modified)\ngo: go1.99.1 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if got := versionText("", bi); got != want {
		t.Errorf("devel build from a modified checkout:\n%s\nwant\n%s", got, want)
	}
	bi.Settings[3].Value = "false"
	if got := versionText("v1.2.3", bi); !strings.HasPrefix(got, "smpp-mux v1.2.3\ncommit: 63b39ba0123456789abcdef0123456789abcdef0 (2026-12-07T04:00:00Z)\n") {
		t.Errorf("-X main.version=v1.2.3, clean checkout:\n%s", got)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.4.0"}}
	if got := versionText("", bi); !strings.HasPrefix(got, "smpp-mux v1.4.0\ncommit: unknown") {
		t.Errorf("go install of a module version:\n%s", got)
	}
	if got := versionText("", nil); !strings.HasPrefix(got, "smpp-mux devel\ncommit: unknown") || !strings.Contains(got, "go: "+runtime.Version()) {
		t.Errorf("no build info:\n%s", got)
	}
}

func TestModulesJSON(t *testing.T) {
	t.Parallel()
	code, out, errs := runCmd(t, "", "modules", "--json")
	if code != 0 || errs != "" {
		t.Fatalf("modules --json: exit %d, %q", code, errs)
	}
	var mods []moduleJSON
	if err := json.Unmarshal([]byte(out), &mods); err != nil {
		t.Fatalf("modules --json is not a JSON array of modules: %v\n%s", err, out)
	}
	found := false
	for _, m := range mods {
		if m.ID != m.Namespace+"."+m.Name || m.Doc == "" {
			t.Errorf("module %+v", m)
		}
		found = found || m.ID == "rule.message_class" && m.Namespace == "rule" && m.Name == "message_class"
	}
	if !found {
		t.Errorf("no rule.message_class in\n%s", out)
	}
	_, text, _ := runCmd(t, "", "modules")
	if n := strings.Count(text, "\n"); n != len(mods) {
		t.Errorf("modules prints %d lines, --json %d modules", n, len(mods))
	}
}

// TestModulesListsBalancers checks that `modules` lists the balancer
// modules beside the rules and stores.
func TestModulesListsBalancers(t *testing.T) {
	t.Parallel()
	code, out, _ := runCmd(t, "", "modules")
	for _, id := range []string{"balancer.least_pending", "balancer.round_robin", "store.bolt", "rule.rate_limit"} {
		if code != 0 || !strings.Contains(out, id) {
			t.Errorf("modules (exit %d) does not list %s:\n%s", code, id, out)
		}
	}
}
