package mux_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/external"
)

// The example plugin through the running mux: it marks messages to 45...
// as premium at the provider; killed under load, every submit is still
// answered (passed, or ESME_RSYSERR by on_error), and after its restart
// messages are marked again.
func TestExamplePluginThroughTheMux(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "premium-class")
	if out, err := exec.Command("go", "build", "-o", bin, "../plugins/examples/premium-class").CombinedOutput(); err != nil {
		t.Fatalf("build the example plugin: %v\n%s", err, out)
	}
	h := newHarness(t, fmt.Sprintf(`
[[client]]
system_id = "plug"
password = "pw"
  [[client.rule]]
  module = "plugin"
  command = [%q]
  timeout = "500ms"
`, bin))
	var plugin *external.Plugin
	for _, cc := range h.cfg.Clients {
		if cc.SystemID == "plug" {
			plugin = cc.Rules[0].(*external.Plugin)
		}
	}
	c := h.dial("plug", "pw", esme.Options{})
	for _, dest := range []string{"4512345678", "4612345678"} {
		if st, _, err := c.Submit(ctxT(t), sm(dest, false, "hi")); err != nil || st != pdu.StatusOK {
			t.Fatalf("submit to %s: %v %v", dest, st, err)
		}
	}
	subs := h.sim.Submits()
	if class, ok := subs[0].MessageClass(); !ok || class != "premium" {
		t.Fatalf("to 45...: message_class %q %v, want premium", class, ok)
	}
	if _, ok := subs[1].MessageClass(); ok {
		t.Fatal("to 46...: a message_class was set")
	}
	if st, _, _ := c.Submit(ctxT(t), sm("4512345678", false, "")); st != pdu.StatusInvMsgLen {
		t.Fatalf("empty message: %v, want the plugin's ESME_RINVMSGLEN", st)
	}

	// Kill the plugin under load.
	stop := make(chan struct{})
	var answered, sysErr atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, _, err := c.Submit(ctxT(t), sm("4512345678", false, "load"))
				if err != nil {
					t.Errorf("submit: %v", err)
					return
				}
				answered.Add(1)
				if st == pdu.StatusSysErr {
					sysErr.Add(1)
				} else if st != pdu.StatusOK {
					t.Errorf("status %v", st)
				}
			}
		})
	}
	pid := plugin.PID()
	time.Sleep(200 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 15*time.Second, "plugin.PID() != pid && plugin.PID() != 0", func() bool { return plugin.PID() != pid && plugin.PID() != 0 })
	before := len(h.sim.Submits())
	eventually.That(t, 10*time.Second, "len(h.sim.Submits()) > before+50", func() bool { return len(h.sim.Submits()) > before+50 })
	close(stop)
	wg.Wait()
	t.Logf("answered %d submits, %d with ESME_RSYSERR while the plugin restarted", answered.Load(), sysErr.Load())
	events := map[string]uint64{}
	for _, rc := range h.mux.RuleCounters() {
		if rc.Client == "plug" && rc.Rule == 0 && rc.Module == "plugin" {
			events[rc.Event] = rc.Value
		}
	}
	if events["calls"] == 0 || events["restarts"] == 0 || events["errors"] == 0 {
		t.Fatalf("plugin counters %v: want calls, errors and a restart counted", events)
	}
	last := h.sim.Submits()
	if class, ok := last[len(last)-1].MessageClass(); !ok || class != "premium" {
		t.Fatalf("after the restart: message_class %q %v", class, ok)
	}
}

// TestPluginKeptAcrossReload reloads a config whose plugin rule is
// unchanged: the plugin keeps its process, and still marks messages once
// the old config is cleaned up. A changed command starts a new process
// and stops the old one.
func TestPluginKeptAcrossReload(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "premium-class")
	if out, err := exec.Command("go", "build", "-o", bin, "../plugins/examples/premium-class").CombinedOutput(); err != nil {
		t.Fatalf("build the example plugin: %v\n%s", err, out)
	}
	clients := func(args string) string {
		return clientsTOML + fmt.Sprintf(`
[[client]]
system_id = "plug"
password = "pw"
  [[client.rule]]
  module = "plugin"
  command = [%q%s]
  timeout = "500ms"
`, bin, args)
	}
	h := newHarness(t, clients("")[len(clientsTOML):])
	pluginOf := func(cfg *mux.Config) *external.Plugin {
		for _, cc := range cfg.Clients {
			if cc.SystemID == "plug" {
				return cc.Rules[0].(*external.Plugin)
			}
		}
		t.Fatal("no plug client")
		return nil
	}
	pid := pluginOf(h.cfg).PID()
	if pid == 0 {
		t.Fatal("no pid")
	}

	same := h.upstreamConfig(h.sim.Addrs()[:2], "", clients(""))
	if err := h.mux.Reload(same); err != nil {
		t.Fatal(err)
	}
	if got := pluginOf(same).PID(); got != pid {
		t.Fatalf("unchanged rule: pid %d after the reload, %d before", got, pid)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the kept plugin is gone after the old config's cleanup: %v", err)
	}
	c := h.dial("plug", "pw", esme.Options{})
	if st, _, err := c.Submit(ctxT(t), sm("4512345678", false, "hi")); err != nil || st != pdu.StatusOK {
		t.Fatalf("submit after the reload: %v %v", st, err)
	}
	if class, ok := h.sim.Submits()[0].MessageClass(); !ok || class != "premium" {
		t.Fatalf("after the reload: message_class %q %v, want premium", class, ok)
	}

	changed := h.upstreamConfig(h.sim.Addrs()[:2], "", clients(`, "-prefix", "46"`))
	if err := h.mux.Reload(changed); err != nil {
		t.Fatal(err)
	}
	if got := pluginOf(changed).PID(); got == pid || got == 0 {
		t.Fatalf("changed command: pid %d after the reload, %d before", got, pid)
	}
	eventually.That(t, 5*time.Second, "syscall.Kill(pid, 0) != nil", func() bool { return syscall.Kill(pid, 0) != nil })
}
