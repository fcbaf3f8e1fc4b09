package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
)

// withAdmin is the minimal config with its [admin] table replaced.
func withAdmin(host, admin string) string {
	return strings.Replace(fmt.Sprintf(minimal, host), "[admin]\nlisten = \"\"\n", "[admin]\n"+admin, 1)
}

func TestValidateAdminToken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, admin string
		ok          bool
	}{
		{"loopback v4", `listen = "127.0.0.2:2019"` + "\n", true},
		{"loopback v6", `listen = "[::1]:2019"` + "\n", true},
		{"localhost", `listen = "localhost:2019"` + "\n", true},
		{"disabled", `listen = ""` + "\n", true},
		{"all interfaces", `listen = ":2019"` + "\n", false},
		{"public", `listen = "0.0.0.0:2019"` + "\n", false},
		{"hostname", `listen = "admin.example:2019"` + "\n", false},
		{"public with token", `listen = "0.0.0.0:2019"` + "\ntoken = \"t0k-en\"\n", true},
		{"token with a space", `listen = "127.0.0.1:2019"` + "\ntoken = \"t0k en\"\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeConfig(t, withAdmin("127.0.0.1:2775", tc.admin))
			code, _, errs := runCmd(t, "", "validate", "--config", p)
			if tc.ok && code != 0 || !tc.ok && (code != 2 || !strings.Contains(errs, "admin.token")) {
				t.Fatalf("exit %d, stderr %q; want ok=%v (errors naming admin.token)", code, errs, tc.ok)
			}
			if strings.Contains(errs, "t0k") {
				t.Fatalf("the token is printed: %q", errs)
			}
		})
	}
	cfg, err := mux.Parse([]byte(withAdmin("127.0.0.1:2775", "token = \"t0k-en\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(cfg.Admin); strings.Contains(s, "t0k") || !strings.Contains(s, "127.0.0.1:2019") {
		t.Fatalf("AdminConfig.String() = %q; want the default listen and no token", s)
	}
}

// TestRunAdminReload runs the command with a token on its admin listener
// and reloads it over HTTP: a broken file is refused with 400 while the
// old config keeps serving; a file adding a client applies.
func TestRunAdminReload(t *testing.T) {
	simAddr := freeAddr(t)
	simProc := start(t, "simulate", "--listen", simAddr, "--system-id", "acct", "--password", "secret")
	defer stop(t, simProc)
	waitListening(t, simAddr)
	muxAddr, adminAddr := freeAddr(t), freeAddr(t)
	body := strings.Replace(withAdmin(simAddr, fmt.Sprintf("listen = %q\ntoken = \"tok\"\n", adminAddr)), "127.0.0.1:0", muxAddr, 1)
	cfg := writeConfig(t, body)
	muxProc := start(t, "run", "--config", cfg)
	waitListening(t, adminAddr)
	base := "http://" + adminAddr

	call := func(method, path, token, reqBody string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(reqBody))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually.That(t, 10*time.Second, "upstream bound", func() bool { code, _ := call("GET", "/healthz", "", ""); return code == http.StatusOK })
	if code, _ := call("POST", "/reload", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("POST /reload without the token: %d, want 401", code)
	}
	if err := os.WriteFile(cfg, []byte("[server\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, resp := call("POST", "/reload", "tok", ""); code != http.StatusBadRequest || !strings.Contains(resp, `"error"`) {
		t.Fatalf("POST /reload of a broken file: %d %s, want 400", code, resp)
	}
	if code, resp := call("GET", "/status", "tok", ""); code != http.StatusOK || !strings.Contains(resp, `"bound"`) {
		t.Fatalf("/status after a refused reload: %d %s", code, resp)
	}
	if err := os.WriteFile(cfg, []byte(body+"[[client]]\nsystem_id = \"late\"\npassword = \"pw\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, resp := call("POST", "/reload", "tok", ""); code != http.StatusOK || !strings.Contains(resp, "reloaded") {
		t.Fatalf("POST /reload adding a client: %d %s", code, resp)
	}
	late, err := esme.Dial(muxAddr, "late", "pw", esme.Options{})
	if err != nil {
		t.Fatalf("client added by POST /reload cannot bind: %v", err)
	}
	late.Close()
	if code, resp := call("PUT", "/log/level", "tok", `{"level":"debug"}`); code != http.StatusOK || !strings.Contains(resp, "debug") {
		t.Fatalf("PUT /log/level: %d %s", code, resp)
	}
	if code := stop(t, muxProc); code != 0 {
		t.Fatalf("run exited %d after SIGTERM, want 0", code)
	}
}
