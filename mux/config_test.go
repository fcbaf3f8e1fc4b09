package mux_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/configcases"
	"github.com/smpp-mux/smpp-mux/internal/testcert"
	"github.com/smpp-mux/smpp-mux/mux"
)

// configErrors returns the *mux.ConfigError values err joins, and fails
// the test on an error that is not one.
func configErrors(t *testing.T, err error) []*mux.ConfigError {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*mux.ConfigError, 0, len(errs))
	for _, e := range errs {
		var ce *mux.ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("%T is not a *mux.ConfigError: %v", e, e)
		}
		out = append(out, ce)
	}
	return out
}

func loadString(t *testing.T, src string) (*mux.Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smpp-mux.toml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return mux.Load(p)
}

func TestConfigBaseValid(t *testing.T) {
	if _, err := mux.Parse([]byte(configcases.Base)); err != nil {
		t.Fatal(err)
	}
	if _, err := loadString(t, configcases.Base); err != nil {
		t.Fatal(err)
	}
}

// TestConfigErrors loads every invalid config of configcases and wants
// exactly one error, naming the key and the marked line.
func TestConfigErrors(t *testing.T) {
	for _, tc := range configcases.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			if tc.NotRoot && os.Geteuid() == 0 {
				t.Skip("root may write anywhere")
			}
			src := tc.Config(t.TempDir())
			line := configcases.Line(src)
			if line == 0 {
				t.Fatalf("no %s marker in the config", configcases.Marker)
			}
			if !tc.Files {
				// Parse does not look outside the config: it must
				// find the error alone.
				_, err := mux.Parse([]byte(src))
				checkOneError(t, err, tc.Key, line, tc.Msg)
			} else if _, err := mux.Parse([]byte(src)); err != nil {
				t.Errorf("Parse: %v; only Load should look at files", err)
			}
			_, err := loadString(t, src)
			checkOneError(t, err, tc.Key, line, tc.Msg)
		})
	}
}

func checkOneError(t *testing.T, err error, key string, line int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s at line %d", key, line)
	}
	errs := configErrors(t, err)
	if len(errs) != 1 {
		t.Fatalf("%d errors, want 1 (%s at line %d):\n%v", len(errs), key, line, err)
	}
	e := errs[0]
	if e.Key != key || e.Line != line || !strings.Contains(e.Msg, msg) {
		t.Errorf("got key %q line %d msg %q;\nwant key %q line %d msg containing %q", e.Key, e.Line, e.Msg, key, line, msg)
	}
	if !strings.Contains(e.Error(), key) {
		t.Errorf("%q does not name %q", e.Error(), key)
	}
}

// Errors in the second and later [[client]] name their own lines, also
// when several are reported at once.
func TestConfigErrorLinesInLaterClients(t *testing.T) {
	src := configcases.Base + `
[[client]]
system_id = "bank"
password = "pw"
lisen = 1

[[client]]
system_id = "post"
lisen = 2
`
	_, err := mux.Parse([]byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(src, "\n")
	lineOf := func(text string, nth int) int {
		for i, l := range lines {
			if l == text {
				if nth == 0 {
					return i + 1
				}
				nth--
			}
		}
		t.Fatalf("%q not in the config", text)
		return 0
	}
	want := map[string]int{ // key and element: line
		"client.system_id client[2]": lineOf(`system_id = "bank"`, 1),
		"client.lisen client[2]":     lineOf("lisen = 1", 0),
		"client.lisen client[3]":     lineOf("lisen = 2", 0),
		"client.password client[3]":  lineOf("[[client]]", 3),
	}
	got := map[string]int{}
	for _, e := range configErrors(t, err) {
		got[e.Key+" "+strings.TrimSuffix(strings.Fields(e.Msg)[0], ":")] = e.Line
	}
	for k, l := range want {
		if got[k] != l {
			t.Errorf("%s: line %d, want %d\n%v", k, got[k], l, err)
		}
	}
	if len(got) != len(want) {
		t.Errorf("errors %v, want %v\n%v", got, want, err)
	}
}

// What Load looks at passes when it is there: a certificate and key that
// load, a CA file, a bolt directory to write in, plugin commands given
// by path and found through PATH.
func TestConfigLoadsWhatExists(t *testing.T) {
	certs := testcert.New(t)
	dir := t.TempDir()
	rule := filepath.Join(dir, "rule")
	if err := os.WriteFile(rule, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(configcases.Base, `mo_default = "shop"`, fmt.Sprintf("mo_default = \"shop\"\ntls_listen = \"127.0.0.1:8775\"\ntls_cert = %q\ntls_key = %q", certs.Cert, certs.Key), 1)
	src = strings.Replace(src, `address = "127.0.0.1:2776"`, fmt.Sprintf("address = \"127.0.0.1:2776\"\ntls = true\nca = %q", certs.CA), 1)
	src = strings.Replace(src, "module = \"memory\"\n", fmt.Sprintf("module = \"bolt\"\npath = %q\n", filepath.Join(dir, "m.db")), 1)
	src += fmt.Sprintf("\n  [[client.rule]]\n  module = \"plugin\"\n  command = [%q]\n\n  [[client.rule]]\n  module = \"plugin\"\n  command = [\"sh\", \"-c\", \"exit 1\"]\n", rule)
	if _, err := loadString(t, src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load created the database, or: %v", err)
	}
}
