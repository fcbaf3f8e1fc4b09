package external

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-plugin"
	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/host"
)

// ruleFunc makes an sdk.Rule of a function.
type ruleFunc func(context.Context, *sdk.Message) (sdk.Verdict, error)

func (f ruleFunc) Submit(ctx context.Context, m *sdk.Message) (sdk.Verdict, error) { return f(ctx, m) }

// inProcess provisions a rule.plugin whose plugin runs in this process,
// connected over go-plugin's TestPluginGRPCConn.
func inProcess(t *testing.T, rule sdk.Rule, timeout time.Duration, onError string) *Plugin {
	t.Helper()
	p := &Plugin{Command: []string{"in-process"}, Timeout: module.Duration(timeout), OnError: onError}
	p.start = func(context.Context) (*instance, error) {
		c, s := plugin.TestPluginGRPCConn(t, false, host.PluginSet(rule))
		raw, err := c.Dispense(host.PluginName)
		if err != nil {
			return nil, err
		}
		// Close makes the server stop itself (go-plugin's controller
		// Shutdown); stopping it here too would race inside go-plugin.
		_ = s
		return &instance{rule: raw.(*host.Client), stop: sync.OnceFunc(func() { _ = c.Close() })}, nil
	}
	ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(t))
	t.Cleanup(func() {
		cancel()
		if err := ctx.Cleanup(); err != nil {
			t.Error(err)
		}
	})
	if err := ctx.LoadModule("rule.plugin", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// testMessage is a submit_sm to dest with text and one TLV.
func testMessage(dest, text string) *module.Message {
	return &module.Message{Client: "shop", SM: pdu.SM{
		SourceAddr:   []byte("Shop"),
		DestTON:      1,
		DestNPI:      1,
		DestAddr:     []byte(dest),
		ShortMessage: []byte(text),
		TLVs:         pdu.TLVs(pdu.AppendTLV(nil, pdu.TagUserMessageReference, []byte{0, 7})),
	}}
}

func statusOf(err error) pdu.Status {
	var se *pdu.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	if err != nil {
		return 0xFFFFFFFF
	}
	return pdu.StatusOK
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	// late holds the timeout cases' answers until the subtests are done.
	late := make(chan struct{})
	t.Cleanup(func() { close(late) })
	tests := []struct {
		name    string
		rule    ruleFunc
		onError string
		want    pdu.Status
		check   func(t *testing.T, m *module.Message)
	}{
		{name: "pass", rule: func(_ context.Context, m *sdk.Message) (sdk.Verdict, error) {
			if m.Client != "shop" || m.DestAddr != "4512345678" || string(m.ShortMessage) != "hello" || m.DestTON != 1 {
				return sdk.Verdict{}, errors.New("message not as sent")
			}
			if v, ok := m.TLV(uint16(pdu.TagUserMessageReference)); !ok || string(v) != "\x00\x07" {
				return sdk.Verdict{}, errors.New("tlv not as sent")
			}
			return sdk.Pass(), nil
		}, check: func(t *testing.T, m *module.Message) {
			if m.Changed() {
				t.Error("a pass changed the message")
			}
		}},
		{name: "change", rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			return sdk.Change(sdk.SetTLV(uint16(pdu.TagMessageClass), []byte("premium")), sdk.SetPriority(2),
				sdk.SetDestTON(5), sdk.SetSourceAddr("Brand")), nil
		}, check: func(t *testing.T, m *module.Message) {
			v, _ := m.SM.TLVs.Lookup(pdu.TagMessageClass)
			ref, _ := m.SM.TLVs.Uint16(pdu.TagUserMessageReference)
			if !m.Changed() || string(v) != "premium" || ref != 7 || m.SM.PriorityFlag != 2 || m.SM.DestTON != 5 || string(m.SM.SourceAddr) != "Brand" {
				t.Errorf("changed message: %+v", m.SM)
			}
		}},
		{name: "reject", want: pdu.StatusInvDstAddr, rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			return sdk.Reject(uint32(pdu.StatusInvDstAddr), "no"), nil
		}},
		{name: "reject without status", want: pdu.StatusSysErr, rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			return sdk.Reject(0, "zero"), nil
		}},
		{name: "error rejects", want: pdu.StatusSysErr, rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			return sdk.Verdict{}, boom
		}},
		{name: "error passes", onError: "pass", rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			return sdk.Verdict{}, boom
		}},
		{name: "panic rejects", want: pdu.StatusSysErr, rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			panic("rule bug")
		}},
		{name: "bad edit rejects", want: pdu.StatusSysErr, rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			return sdk.Change(sdk.SetSourceAddr(strings.Repeat("x", 21))), nil
		}, check: func(t *testing.T, m *module.Message) {
			if m.Changed() {
				t.Error("a refused edit changed the message")
			}
		}},
		{name: "NUL in source_addr rejects", want: pdu.StatusSysErr, rule: func(context.Context, *sdk.Message) (sdk.Verdict, error) {
			// Forwarded, "Br\x00and" would end source_addr after "Br" and
			// shift every later field of the submit_sm.
			return sdk.Change(sdk.SetSourceAddr("Br\x00and")), nil
		}, check: func(t *testing.T, m *module.Message) {
			if m.Changed() {
				t.Error("a refused edit changed the message")
			}
		}},
		// The plugin's context may end a little before the host's deadline
		// (the deadline travels with the call); the rule answers only once
		// the test is over, so that its answer never beats the host's
		// timeout.
		{name: "timeout rejects", want: pdu.StatusSysErr, rule: func(ctx context.Context, _ *sdk.Message) (sdk.Verdict, error) {
			<-ctx.Done()
			<-late
			return sdk.Pass(), nil
		}},
		{name: "timeout passes", onError: "pass", rule: func(ctx context.Context, _ *sdk.Message) (sdk.Verdict, error) {
			<-ctx.Done()
			<-late
			return sdk.Reject(1, "too late"), nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const timeout = 300 * time.Millisecond
			p := inProcess(t, tc.rule, timeout, tc.onError)
			m := testMessage("4512345678", "hello")
			start := time.Now()
			err := p.Submit(m)
			if took := time.Since(start); took > timeout+200*time.Millisecond {
				t.Errorf("Submit took %v, timeout %v", took, timeout)
			}
			if got := statusOf(err); got != tc.want {
				t.Fatalf("Submit: %v (status %v), want status %v", err, got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
			wantErrs := uint64(0)
			if tc.want == pdu.StatusSysErr || tc.onError == "pass" {
				wantErrs = 1
			}
			if p.Calls() != 1 || p.Errors() != wantErrs {
				t.Errorf("calls %d errors %d; want 1 and %d", p.Calls(), p.Errors(), wantErrs)
			}
		})
	}
}

// TestRestartInProcess stops the in-process plugin as a crash would: calls
// get on_error at once, and pass again once the supervisor restarted it.
func TestRestartInProcess(t *testing.T) {
	t.Parallel()
	p := inProcess(t, ruleFunc(func(context.Context, *sdk.Message) (sdk.Verdict, error) { return sdk.Pass(), nil }), time.Second, "")
	if err := p.Submit(testMessage("45", "a")); err != nil {
		t.Fatal(err)
	}
	p.cur.Load().stop()
	sawError := false
	eventually.That(t, 10*time.Second, "the restarted plugin answering", func() bool {
		err := p.Submit(testMessage("45", "a"))
		if err != nil {
			if statusOf(err) != pdu.StatusSysErr {
				t.Fatalf("Submit while down: %v", err)
			}
			sawError = true
		}
		return err == nil && sawError
	})
	if p.Restarts() == 0 {
		t.Error("no restart counted")
	}
}

func TestCleanupTwiceAndAfterFailedProvision(t *testing.T) {
	t.Parallel()
	p := &Plugin{Command: []string{"in-process"}}
	p.start = func(context.Context) (*instance, error) { return nil, errors.New("no such plugin") }
	ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(t))
	defer cancel()
	if err := ctx.LoadModule("rule.plugin", p); err == nil || !strings.Contains(err.Error(), "no such plugin") {
		t.Fatalf("LoadModule: %v", err)
	}
	if err := ctx.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := p.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(testMessage("45", "a")); statusOf(err) != pdu.StatusSysErr {
		t.Fatalf("Submit after Cleanup: %v", err)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      *Plugin
		wantErr   string
	}{
		{name: "env table", src: `command = ["./r", "-x"]
timeout = "150ms"
on_error = "pass"
env = { B = "2", A = "1" }`, want: &Plugin{Command: []string{"./r", "-x"}, Timeout: module.Duration(150 * time.Millisecond), OnError: "pass", Env: Env{"A=1", "B=2"}}},
		{name: "env list", src: `command = ["./r"]
env = ["A=1"]`, want: &Plugin{Command: []string{"./r"}, Env: Env{"A=1"}}},
		{name: "env not a pair", src: `command = ["./r"]
env = ["A"]`, wantErr: "NAME=value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var raw struct{ Rule toml.Primitive }
			md, err := toml.Decode("[rule]\n"+tc.src, &raw)
			if err != nil {
				t.Fatal(err)
			}
			var got Plugin
			err = md.PrimitiveDecode(raw.Rule, &got)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u := md.Undecoded(); len(u) > 0 {
				t.Errorf("undecoded keys: %v", u)
			}
			if strings.Join(got.Command, " ") != strings.Join(tc.want.Command, " ") || got.Timeout != tc.want.Timeout ||
				got.OnError != tc.want.OnError || strings.Join(got.Env, ",") != strings.Join(tc.want.Env, ",") {
				t.Errorf("got %q %v %q %q, want %q %v %q %q", got.Command, got.Timeout, got.OnError, got.Env,
					tc.want.Command, tc.want.Timeout, tc.want.OnError, tc.want.Env)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, p := range []*Plugin{{}, {Command: []string{""}}, {Command: []string{"./r"}, OnError: "drop"}} {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", p)
		}
	}
}
