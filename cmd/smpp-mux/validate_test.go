package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/smpp-mux/smpp-mux/internal/configcases"
)

// TestValidateConfigCases runs validate on every invalid config the
// loader's tests use: exit 2, naming the key and its line.
func TestValidateConfigCases(t *testing.T) {
	for _, tc := range configcases.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			if tc.NotRoot && os.Geteuid() == 0 {
				t.Skip("root may write anywhere")
			}
			src := tc.Config(t.TempDir())
			code, out, errs := runCmd(t, "", "validate", "--config", writeConfig(t, src))
			if code != 2 {
				t.Fatalf("exit %d, want 2; stdout %q stderr %q", code, out, errs)
			}
			want := fmt.Sprintf("smpp-mux validate: config: line %d: ", configcases.Line(src))
			if tc.Key != "" {
				want += tc.Key + ": "
			}
			if !strings.HasPrefix(errs, want) || !strings.Contains(errs, tc.Msg) {
				t.Errorf("stderr %q; want it to start %q and hold %q", errs, want, tc.Msg)
			}
		})
	}
}

// TestValidateProcess runs validate as a process on configs whose errors
// are outside the file, and run on one of them: each exits 2 naming the
// key and its line, before anything starts.
func TestValidateProcess(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	boltFile := filepath.Join(dir, "smpp-mux.db")
	db, err := bbolt.Open(boltFile, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf(minimal, "127.0.0.1:2775")
	cases := []struct {
		name, cmd, config, want string
	}{
		{"missing plugin command", "validate", base + fmt.Sprintf("[[client.rule]]\nmodule = \"plugin\"\ncommand = [%q]\n", filepath.Join(dir, "no-rule")),
			`line 17: client.rule.command: client[0] "shop" rule[0]: rule.plugin: exec: `},
		{"run checks the plugin command too", "run", base + "[[client.rule]]\nmodule = \"plugin\"\ncommand = [\"smpp-mux-no-such-rule\"]\n",
			`line 17: client.rule.command: client[0] "shop" rule[0]: rule.plugin: exec: "smpp-mux-no-such-rule": executable file not found in $PATH`},
		{"unreadable tls_cert", "validate", strings.Replace(base, "listen = \"127.0.0.1:0\"\n", fmt.Sprintf("listen = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\ntls_cert = %q\ntls_key = %q\n", filepath.Join(dir, "no-cert.pem"), file), 1),
			"line 4: server.tls_cert: open " + filepath.Join(dir, "no-cert.pem")},
		{"store directory not writable", "validate", strings.Replace(base, "module = \"memory\"\n", fmt.Sprintf("module = \"bolt\"\npath = %q\n", filepath.Join(file, "m.db")), 1),
			"line 7: store.path: store.bolt: " + file + " is not a directory"},
		{"duration without unit", "validate", strings.Replace(base, "listen = \"127.0.0.1:0\"\n", "listen = \"127.0.0.1:0\"\nbind_timeout = \"30\"\n", 1),
			`line 3: server.bind_timeout: not a duration`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stderr := runProcess(t, tc.cmd, "--config", writeConfig(t, tc.config))
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if want := "smpp-mux " + tc.cmd + ": config: " + tc.want; !strings.HasPrefix(stderr, want) {
				t.Errorf("stderr:\n%s\nwant it to start %q", stderr, want)
			}
		})
	}
	t.Run("config.example.toml", func(t *testing.T) {
		t.Parallel()
		if code, stderr := runProcess(t, "validate", "--config", "../../config.example.toml"); code != 0 {
			t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr)
		}
	})
}
