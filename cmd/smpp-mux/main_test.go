package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/freeport"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// TestMain doubles as the smpp-mux command when SMPP_MUX_MAIN is set, so
// tests can run it as a real process without building it first.
func TestMain(m *testing.M) {
	if os.Getenv("SMPP_MUX_MAIN") == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smpp-mux.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimal = `[server]
listen = "127.0.0.1:0"
[admin]
listen = ""
[store]
module = "memory"
[upstream]
system_id = "acct"
password = "secret"
[[upstream.host]]
address = "%s"
[[client]]
system_id = "shop"
password = "pw"
`

func TestValidate(t *testing.T) {
	good := writeConfig(t, fmt.Sprintf(minimal, "127.0.0.1:2775"))
	if code, out, errs := runCmd(t, "", "validate", "--config", good); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("valid config: exit %d, %q %q", code, out, errs)
	}
	bad := writeConfig(t, fmt.Sprintf(minimal, "127.0.0.1:2775")+"lisen = 3\n")
	code, _, errs := runCmd(t, "", "validate", "--config", bad)
	if code != 2 || !strings.Contains(errs, "client.lisen") || !strings.Contains(errs, "line 15") {
		t.Fatalf("unknown key: exit %d, stderr %q; want 2 naming client.lisen at line 15", code, errs)
	}
	syntax := writeConfig(t, "[server\nlisten = 1")
	if code, _, errs := runCmd(t, "", "validate", "--config", syntax); code != 2 || !(strings.Contains(errs, "line 1:") || strings.Contains(errs, "line 2:")) {
		t.Fatalf("syntax error: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := runCmd(t, "", "validate"); code != 2 {
		t.Fatalf("validate without --config: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "", "validate", "--config", filepath.Join(t.TempDir(), "missing.toml")); code != 2 {
		t.Fatalf("missing file: exit %d, want 2", code)
	}
}

func TestSmallCommands(t *testing.T) {
	code, out, _ := runCmd(t, "s3cret\n", "hash-password", "--cost", "4")
	if code != 0 || bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out)), []byte("s3cret")) != nil {
		t.Fatalf("hash-password: exit %d, %q", code, out)
	}
	if code, _, _ := runCmd(t, "", "hash-password"); code != 2 {
		t.Fatalf("hash-password with empty stdin: exit %d, want 2", code)
	}
	if code, out, _ := runCmd(t, "", "version"); code != 0 || !strings.HasPrefix(out, "smpp-mux ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, out, _ := runCmd(t, "", "modules"); code != 0 || !strings.Contains(out, "store.memory") {
		t.Fatalf("modules: %d %q", code, out)
	}
	if code, _, _ := runCmd(t, "", "frobnicate"); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, ""); code != 2 {
		t.Fatalf("no command: exit %d, want 2", code)
	}
}

// TestRunStopsOnSIGTERM runs the command as a process in front of the
// simulator (also a process), binds a client, submits, sends SIGTERM and
// expects exit 0.
func TestRunStopsOnSIGTERM(t *testing.T) {
	simAddr := freeAddr(t)
	simProc := start(t, "simulate", "--listen", simAddr, "--system-id", "acct", "--password", "secret")
	defer stop(t, simProc)
	waitListening(t, simAddr)
	muxAddr := freeAddr(t)
	cfg := writeConfig(t, strings.Replace(fmt.Sprintf(minimal, simAddr), "127.0.0.1:0", muxAddr, 1))
	muxProc := start(t, "run", "--config", cfg)
	waitListening(t, muxAddr)
	c := bindEventually(t, muxAddr, "shop", pdu.CmdBindTransceiver)
	defer c.Close()
	sm := &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")}
	eventually.NoError(t, 10*time.Second, "submit accepted (the upstream may still be binding)", func() error {
		st, _, err := c.Submit(t.Context(), sm)
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	})
	// SIGHUP with a broken file keeps the running config; with a new
	// client added, the client can bind.
	if err := os.WriteFile(cfg, []byte("[server\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = muxProc.Process.Signal(syscall.SIGHUP)
	added := strings.Replace(fmt.Sprintf(minimal, simAddr), "127.0.0.1:0", muxAddr, 1) + "[[client]]\nsystem_id = \"late\"\npassword = \"pw\"\n"
	if err := os.WriteFile(cfg, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = muxProc.Process.Signal(syscall.SIGHUP)
	bindEventually(t, muxAddr, "late", pdu.CmdBindTransceiver).Close() // the client added by SIGHUP
	if st, _, err := c.Submit(t.Context(), sm); err != nil || st != pdu.StatusOK {
		t.Fatalf("session bound before the reloads: %v %v", st, err)
	}
	if code := stop(t, muxProc); code != 0 {
		t.Fatalf("run exited %d after SIGTERM, want 0", code)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func start(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SMPP_MUX_MAIN=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // forward the process's log to the test log
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log(args[0] + ": " + sc.Text())
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// stop sends SIGTERM and returns the exit code, killing after 15s.
func stop(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("%v did not stop within 15s of SIGTERM", cmd.Args[1:])
	}
	return cmd.ProcessState.ExitCode()
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	eventually.NoError(t, 10*time.Second, addr+" listening", func() error {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
		}
		return err
	})
}

// The example config documents every key; it must stay valid.
func TestExampleConfigValid(t *testing.T) {
	code, out, errs := runCmd(t, "", "validate", "--config", "../../config.example.toml")
	if code != 0 {
		t.Fatalf("config.example.toml: exit %d\n%s%s", code, out, errs)
	}
}

func TestValidateChecksModuleSettings(t *testing.T) {
	p := writeConfig(t, fmt.Sprintf(minimal, "127.0.0.1:2775")+"[[client.rule]]\nmodule = \"priority\"\nmax = 5\n")
	code, _, errs := runCmd(t, "", "validate", "--config", p)
	if code != 2 || !strings.Contains(errs, "max") {
		t.Fatalf("priority max = 5: exit %d, stderr %q; want 2 naming max", code, errs)
	}
	p = writeConfig(t, fmt.Sprintf(minimal, "127.0.0.1:2775")+"[[client.rule]]\nmodule = \"nosuch\"\n")
	if code, _, errs := runCmd(t, "", "validate", "--config", p); code != 2 || !strings.Contains(errs, "unknown module \"nosuch\"") {
		t.Fatalf("unknown module: exit %d, stderr %q", code, errs)
	}
}
