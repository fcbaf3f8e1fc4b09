package external

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// startExample builds the premium-class example and provisions it as a
// rule.plugin the way the config loader would.
func startExample(tb testing.TB, timeout time.Duration) *Plugin {
	tb.Helper()
	bin := buildExample(tb, tb.TempDir())
	p := &Plugin{Command: []string{bin, "-prefix", "45"}, Timeout: module.Duration(timeout)}
	ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(tb, zaptest.Level(zap.InfoLevel)))
	tb.Cleanup(func() {
		cancel()
		if err := ctx.Cleanup(); err != nil {
			tb.Error(err)
		}
	})
	if err := ctx.LoadModule("rule.plugin", p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// frameMessage encodes a submit_sm and decodes it again, so that the
// message's fields are views into a real frame, as in the mux.
func frameMessage(tb testing.TB, dest, text string) *module.Message {
	tb.Helper()
	frame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &testMessage(dest, text).SM)
	m := &module.Message{Client: "shop"}
	if err := m.SM.Decode(frame[pdu.HeaderLen:]); err != nil {
		tb.Fatal(err)
	}
	return m
}

// premium reports whether m left the rule with message_class "premium".
func premium(m *module.Message) bool {
	v, ok := m.SM.TLVs.Lookup(pdu.TagMessageClass)
	return ok && string(v) == "premium" && m.Changed()
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	p := startExample(t, timeout)

	m := frameMessage(t, "4512345678", "hello")
	if err := p.Submit(m); err != nil || !premium(m) {
		t.Fatalf("premium destination: err %v, tlvs % x", err, m.SM.TLVs)
	}
	var wire pdu.SM // the re-encoded message carries the class
	if err := wire.Decode(pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &m.SM)[pdu.HeaderLen:]); err != nil {
		t.Fatal(err)
	}
	if v, _ := wire.TLVs.Lookup(pdu.TagMessageClass); string(v) != "premium" {
		t.Fatalf("encoded tlvs % x", wire.TLVs)
	}
	m = frameMessage(t, "4612345678", "hello")
	if err := p.Submit(m); err != nil || m.Changed() {
		t.Fatalf("other destination: err %v, changed %v", err, m.Changed())
	}
	m = frameMessage(t, "4512345678", "")
	if err := p.Submit(m); statusOf(err) != pdu.StatusInvMsgLen {
		t.Fatalf("empty message: %v, want ESME_RINVMSGLEN", err)
	}
}

// TestKillRestart kills the plugin process with SIGKILL under a loop of
// Submits: every Submit returns within the timeout, as a pass or as
// on_error's ESME_RSYSERR, and after the restart Submits pass again.
func TestKillRestart(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	p := startExample(t, timeout)
	oldPID := p.PID()
	if oldPID == 0 {
		t.Fatal("no pid for the plugin")
	}

	var (
		killed, failed atomic.Bool
		passedAfter    atomic.Int64 // passes after a failure was seen
		stop           = make(chan struct{})
		wg             sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := frameMessage(t, "4512345678", "hello")
				start := time.Now()
				err := p.Submit(m)
				if took := time.Since(start); took > timeout+250*time.Millisecond {
					t.Errorf("Submit took %v (timeout %v)", took, timeout)
				}
				switch {
				case err == nil && premium(m):
					if failed.Load() {
						passedAfter.Add(1)
					}
				case statusOf(err) == pdu.StatusSysErr && killed.Load():
					failed.Store(true)
				default:
					t.Errorf("Submit: err %v, premium %v (killed %v)", err, premium(m), killed.Load())
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let traffic flow before the kill
	killed.Store(true)
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for passedAfter.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if !failed.Load() || passedAfter.Load() < 100 {
		t.Fatalf("after the kill: on_error seen %v, passes after it %d", failed.Load(), passedAfter.Load())
	}
	if pid := p.PID(); pid == oldPID || pid == 0 {
		t.Errorf("pid after restart %d, before %d", pid, oldPID)
	}
	if p.Restarts() == 0 || p.Errors() == 0 {
		t.Errorf("restarts %d errors %d", p.Restarts(), p.Errors())
	}
}
