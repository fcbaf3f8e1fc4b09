// Package interop checks that SMPP implementations this project did not
// write can use the mux: they bind to `smpp-mux demo`, submit, and get
// their delivery receipts back. See README.md.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/freeport"
)

const (
	buildTimeout   = 3 * time.Minute
	readyTimeout   = 15 * time.Second
	clientTimeout  = 40 * time.Second // the perl script bounds itself at 20s
	stopTimeout    = 10 * time.Second
	dlrDelay       = "200ms"
	lingerSeconds  = "1.5" // how long the client keeps reading after the last DELIVRD
	perlInstallMsg = "Net::SMPP is not installed; on Debian/Ubuntu: apt-get install -y libnet-smpp-perl"
	nodeInstallMsg = "node or the npm smpp package is missing; install node, then: npm ci --prefix interop/node"
)

// ciSet reports whether the CI environment variable asks for strictness.
func ciSet() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "0" && v != "false"
}

// requireNetSMPP skips the test (or fails it on CI) when perl or
// Net::SMPP is missing.
func requireNetSMPP(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "perl", "-MNet::SMPP", "-e1").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s (perl -MNet::SMPP -e1: %v: %s)", perlInstallMsg, err, bytes.TrimSpace(out))
	if ciSet() {
		t.Fatal("CI is set, so Net::SMPP must be installed: " + msg)
	}
	t.Skip(msg)
}

// moduleRoot finds the directory holding the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod)
		}
	}
	root, aerr := filepath.Abs("..")
	if aerr != nil {
		t.Fatalf("go env GOMOD: %v; and no ../: %v", err, aerr)
	}
	if _, serr := os.Stat(filepath.Join(root, "go.mod")); serr != nil {
		t.Fatalf("cannot find the module root: go env GOMOD: %v; ../go.mod: %v", err, serr)
	}
	return root
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// TestMain removes the binary built by buildMux.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildMux builds ./cmd/smpp-mux into a temporary directory, once for
// all tests.
func buildMux(t *testing.T) string {
	t.Helper()
	root := moduleRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smpp-mux-interop-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		bin := filepath.Join(dir, "smpp-mux")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/smpp-mux")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/smpp-mux: %v\n%s", err, out)
			return
		}
		builtBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// logWriter sends each complete line written to it to t.Log.
type logWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.prefix + string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.t.Log(w.prefix + string(w.buf))
		w.buf = nil
	}
}

// demo is a running `smpp-mux demo`.
type demo struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, valid after done
}

// startDemo starts the demo on a free port and waits until it accepts
// connections. t.Cleanup kills it if the test has not stopped it.
func startDemo(t *testing.T, bin string) *demo {
	t.Helper()
	addr := freeAddr(t)
	out := &logWriter{t: t, prefix: "demo: "}
	cmd := exec.Command(bin, "demo", "--listen", addr, "--admin", "", "--dlr-delay", dlrDelay)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	d := &demo{addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		out.flush()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
			return
		default:
		}
		_ = cmd.Process.Kill()
		select {
		case <-d.done:
		case <-time.After(stopTimeout):
			t.Errorf("smpp-mux demo (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
	})

	eventually.NoError(t, readyTimeout, "smpp-mux demo accepting connections on "+addr, func() error {
		select {
		case <-d.done:
			t.Fatalf("smpp-mux demo exited before accepting connections: %v", d.err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
	return d
}

// stop sends SIGTERM and expects exit status 0 within stopTimeout.
func (d *demo) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		t.Fatalf("smpp-mux demo did not exit within %v of SIGTERM", stopTimeout)
	}
	if d.err != nil {
		t.Fatalf("smpp-mux demo after SIGTERM: %v (want exit status 0)", d.err)
	}
}

// runClient runs a client program (argv[0] is the program) and returns
// its stdout lines, logging them and its stderr with prefix.
func runClient(t *testing.T, prefix string, env []string, argv ...string) (lines []string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (killed after %v)", err, clientTimeout)
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		t.Log(prefix + ": " + sc.Text())
	}
	for l := range strings.Lines(stderr.String()) {
		t.Log(prefix + " stderr: " + strings.TrimRight(l, "\n"))
	}
	return lines, err
}

// fields parses `KEY a=1 b=2` into {"a": "1", "b": "2"}.
func fields(line string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(line)[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

// checkSubmitAndDLR checks the output of one submit run of count messages.
func checkSubmitAndDLR(t *testing.T, lines []string, count int) {
	t.Helper()
	submitted := map[string]bool{}
	delivrd := map[string]int{}
	enroute := map[string]int{}
	var resps int
	var done bool
	var lateEnroute []string
	for _, l := range lines {
		kind, _, _ := strings.Cut(l, " ")
		switch kind {
		case "SUBMIT_RESP":
			resps++
			f := fields(l)
			if f["status"] != "0" {
				t.Errorf("submit_sm_resp with status %s, want 0: %q", f["status"], l)
			}
			if f["id"] == "" {
				t.Errorf("submit_sm_resp without message_id: %q", l)
				continue
			}
			if submitted[f["id"]] {
				t.Errorf("message_id %s given to two submit_sm", f["id"])
			}
			submitted[f["id"]] = true
		case "DLR":
			f := fields(l)
			switch f["stat"] {
			case "DELIVRD":
				delivrd[f["id"]]++
			case "ENROUTE":
				enroute[f["id"]]++
				if delivrd[f["id"]] > 0 {
					lateEnroute = append(lateEnroute, f["id"])
				}
			default:
				t.Errorf("unexpected receipt state: %q", l)
			}
		case "DONE":
			done = true
		case "WARN", "BAD_DLR", "UNEXPECTED", "GENERIC_NACK":
			// Net::SMPP disliked something the mux sent.
			t.Errorf("the client disliked what the mux sent: %s", l)
		case "NOTE":
			t.Logf("client finding: %s", l)
		}
	}
	if resps != count {
		t.Errorf("got %d submit_sm_resp, want %d", resps, count)
	}
	if !done {
		t.Errorf("the client did not finish (no DONE line)")
	}
	for id, n := range delivrd {
		if !submitted[id] {
			t.Errorf("DELIVRD receipt for message_id %s, which this client never got in a submit_sm_resp", id)
		}
		if n != 1 {
			t.Errorf("%d DELIVRD receipts for message_id %s, want exactly 1", n, id)
		}
	}
	for id := range enroute {
		if !submitted[id] {
			t.Errorf("ENROUTE receipt for message_id %s, which this client never got in a submit_sm_resp", id)
		}
	}
	for id := range submitted {
		if delivrd[id] != 1 {
			t.Errorf("message_id %s: %d DELIVRD receipts, want 1", id, delivrd[id])
		}
		// The demo sends an ENROUTE receipt for every message too; the
		// client reads for lingerSeconds after the last DELIVRD.
		if enroute[id] != 1 {
			t.Errorf("message_id %s: %d ENROUTE receipts, want 1", id, enroute[id])
		}
	}
	if len(lateEnroute) > 0 {
		// Not a failure of the contract, which promises no order, but a
		// client that keeps "the last receipt" as the message's state
		// would go back from DELIVRD to ENROUTE.
		t.Logf("finding: %d of %d messages got their ENROUTE receipt after their DELIVRD receipt: %v",
			len(lateEnroute), count, lateEnroute)
	}
}

// client is a third-party SMPP client wrapped in a script that speaks
// the line protocol checkSubmitAndDLR and checkBindFail read.
type client struct {
	name   string   // log prefix
	argv   []string // program and script
	linger string   // environment variable: seconds to read after the last DELIVRD
}

// TestNetSMPP runs Perl's Net::SMPP against `smpp-mux demo`.
func TestNetSMPP(t *testing.T) {
	requireNetSMPP(t)
	runScenarios(t, client{name: "perl", argv: []string{"perl", "netsmpp_client.pl"}, linger: "NETSMPP_LINGER"})
}

// TestNodeSMPP runs the npm smpp package (node-smpp) against `smpp-mux demo`.
func TestNodeSMPP(t *testing.T) {
	requireNodeSMPP(t)
	runScenarios(t, client{name: "node", argv: []string{"node", filepath.Join("node", "smpp_client.js")}, linger: "SMPP_LINGER"})
}

// requireNodeSMPP skips the test (or fails it on CI) when node or the
// npm smpp package under node/node_modules is missing.
func requireNodeSMPP(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "-e", "require('smpp')")
	cmd.Dir = "node"
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s (node -e \"require('smpp')\" in interop/node: %v: %s)", nodeInstallMsg, err, bytes.TrimSpace(out))
	if ciSet() {
		t.Fatal("CI is set, so node and the npm smpp package must be installed: " + msg)
	}
	t.Skip(msg)
}

// runScenarios starts a demo, runs the client's scenarios against it and
// stops the demo.
func runScenarios(t *testing.T, c client) {
	bin := buildMux(t)
	d := startDemo(t, bin)
	host, port, err := net.SplitHostPort(d.addr)
	if err != nil {
		t.Fatal(err)
	}
	linger := []string{c.linger + "=" + lingerSeconds}
	run := func(t *testing.T, env []string, args ...string) ([]string, error) {
		return runClient(t, c.name, env, append(append([]string(nil), c.argv...), args...)...)
	}

	t.Run("submit_and_dlr", func(t *testing.T) {
		// Two tenants at once: each must see its own receipts only.
		for _, u := range []struct {
			user  string
			count int
		}{{"demo", 10}, {"shop", 5}} {
			t.Run(u.user, func(t *testing.T) {
				t.Parallel()
				lines, err := run(t, linger, host, port, u.user, u.user, "4512345679", strconv.Itoa(u.count))
				if err != nil {
					t.Errorf("%s client: %v", c.name, err)
				}
				checkSubmitAndDLR(t, lines, u.count)
			})
		}
	})

	for _, b := range []struct {
		name, user, pass string
		want             int // 0: any non-zero status
	}{
		{"wrong_password", "demo", "wrong", 0x0E},
		{"unknown_system_id", "nobody", "demo", 0},
	} {
		t.Run(b.name, func(t *testing.T) {
			lines, err := run(t, nil, "--bind-fail", host, port, b.user, b.pass)
			if err != nil {
				t.Errorf("%s client --bind-fail: %v", c.name, err)
			}
			checkBindFail(t, lines, b.user, b.pass, b.want)
		})
	}

	d.stop(t)
}

// checkBindFail checks the output of a --bind-fail run.
func checkBindFail(t *testing.T, lines []string, user, pass string, want int) {
	t.Helper()
	status := -1
	var closed bool
	for _, l := range lines {
		switch kind, _, _ := strings.Cut(l, " "); kind {
		case "BIND_FAIL":
			var err error
			status, err = strconv.Atoi(fields(l)["status"])
			if err != nil {
				t.Errorf("bad line %q: %v", l, err)
			}
		case "BIND_OK":
			t.Errorf("bind as %q/%q succeeded: %q", user, pass, l)
		case "CLOSED":
			closed = true
		case "NOT_CLOSED", "UNEXPECTED_DATA", "WARN":
			t.Errorf("after the refused bind: %s", l)
		}
	}
	switch {
	case status == -1:
		t.Errorf("no BIND_FAIL line")
	case status == 0:
		t.Errorf("bind refused with status 0")
	case want != 0 && status != want:
		t.Errorf("bind status 0x%02X, want 0x%02X", status, want)
	case !closed:
		t.Errorf("the mux did not close the connection after the refused bind")
	}
}
