package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
)

func init() { module.Register(new(Plugin)) }

// DefaultTimeout is the per-call deadline when the timeout key is absent.
const DefaultTimeout = 2 * time.Second

// What Submit returns when on_error is "reject": preallocated, since a
// plugin that is down fails every message. Each is a *pdu.StatusError, so
// the session does not log it; the module counts it and logs restarts.
var (
	errTimeout     = &pdu.StatusError{Status: pdu.StatusSysErr, Reason: "external rule timed out"}
	errUnavailable = &pdu.StatusError{Status: pdu.StatusSysErr, Reason: "external rule unavailable"}
	errRuleFailed  = &pdu.StatusError{Status: pdu.StatusSysErr, Reason: "external rule failed"}
)

// rejects holds one preallocated *pdu.StatusError per one-octet status a
// plugin may reject with.
var rejects = func() (t [256]*pdu.StatusError) {
	for i := range t {
		t[i] = &pdu.StatusError{Status: pdu.Status(i), Reason: "rejected by external rule"}
	}
	return t
}()

// Plugin is the rule.plugin module: a rule run in a separate process,
// written with plugins/sdk and started through hashicorp/go-plugin over
// gRPC. Messages from all of the client's sessions are queued and sent to
// the plugin in batches, several in flight at once; see doc.go.
type Plugin struct {
	Command []string        `toml:"command"`  // argv of the plugin; required
	Timeout module.Duration `toml:"timeout"`  // per message; default 2s
	OnError string          `toml:"on_error"` // "reject" (default: ESME_RSYSERR 0x08) or "pass"
	Env     Env             `toml:"env"`      // added to the mux's environment for the plugin

	start func(context.Context) (*instance, error) // starts one plugin; tests replace it

	// *runner is the running plugin: its process, supervisor and workers.
	// An unchanged rule shares it with the module it replaces across a
	// reload (see share.go); nil until provisioned.
	*runner `toml:"-"`
	release func() // drops this module's hold on runner; set by Provision
}

// runner is one running plugin with its supervisor and workers. It is
// bound to no config: it stops when the last module holding it is
// cleaned up.
type runner struct {
	command []string
	env     []string
	log     *zap.Logger
	timeout time.Duration
	pass    bool                                     // on_error = "pass"
	startFn func(context.Context) (*instance, error) // starts one plugin
	deliver atomic.Bool                              // the plugin implements Deliver
	cur     atomic.Pointer[instance]                 // the running plugin; nil while down or stopped
	queue   chan *call                               // Submit → workers
	kick    chan struct{}                            // cap 1: a worker saw a batch fail
	done    <-chan struct{}                          // closed by stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the supervisor and the workers

	// Counted per client and rule position by the mux, so that they go
	// on across reloads: the module that replaces this one in place gets
	// the same counters.
	calls, errs, restarts, batches *module.EventCounter
}

var (
	_ module.Provisioner  = (*Plugin)(nil)
	_ module.Validator    = (*Plugin)(nil)
	_ module.CleanerUpper = (*Plugin)(nil)
	_ module.Rule         = (*Plugin)(nil)
	_ module.DeliverRule  = (*Plugin)(nil)
)

// MuxModule implements module.Module.
func (*Plugin) MuxModule() module.Info {
	return module.Info{
		ID:  "rule.plugin",
		New: func() module.Module { return new(Plugin) },
		Doc: "an external rule in its own process (hashicorp/go-plugin over gRPC)",
	}
}

// Provision implements module.Provisioner: it starts the plugin and waits
// for its handshake, so a config naming a broken plugin fails to load.
// A rule left unchanged by a reload (same command, env, timeout and
// on_error at the same place of the same client) keeps the running
// plugin of the module it replaces instead.
func (p *Plugin) Provision(ctx module.Context) error {
	calls, errs := ctx.EventCounter("calls"), ctx.EventCounter("errors")
	restarts, batches := ctx.EventCounter("restarts"), ctx.EventCounter("batches")
	if err := p.Validate(); err != nil {
		return err
	}
	r := &runner{
		command: p.Command, env: p.Env, log: ctx.Logger(),
		timeout: p.Timeout.Or(DefaultTimeout), pass: p.OnError == "pass", startFn: p.start,
		calls: calls, errs: errs, restarts: restarts, batches: batches,
	}
	if r.startFn == nil {
		r.startFn = r.startProcess
	}
	key, shared := ctx.RuleInstance()
	if !shared || p.start != nil { // in-process tests start their own
		if err := r.run(); err != nil {
			return fmt.Errorf("rule.plugin %s: %w", p.name(), err)
		}
		p.runner, p.release = r, sync.OnceFunc(r.stop)
		return nil
	}
	got, release, err := runners.acquire(p.poolKey(key), r)
	if err != nil {
		return fmt.Errorf("rule.plugin %s: %w", p.name(), err)
	}
	if got != r {
		r.log.Info("external rule kept across the reload", zap.Strings("command", p.Command), zap.Int("pid", got.pid()))
	}
	p.runner, p.release = got, release
	return nil
}

// run starts the first instance, then the supervisor and the workers.
func (r *runner) run() error {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, ctx.Done()
	r.queue = make(chan *call, queueLen)
	r.kick = make(chan struct{}, 1)
	inst, err := r.startFn(ctx)
	if err != nil {
		cancel()
		return err
	}
	r.cur.Store(inst)
	r.probeDeliver(ctx, inst)
	r.wg.Go(func() { r.supervise(ctx, inst) })
	for range inflight {
		r.wg.Go(func() { r.work(ctx) })
	}
	return nil
}

// stop stops the workers and the supervisor, which kills the plugin and
// waits for it.
func (r *runner) stop() {
	r.cancel()
	r.wg.Wait()
}

// Validate implements module.Validator.
func (p *Plugin) Validate() error {
	if len(p.Command) == 0 || p.Command[0] == "" {
		return errors.New("rule.plugin: command is required: the plugin's argv, e.g. [\"./my-rule\"]")
	}
	if p.OnError != "" && p.OnError != "reject" && p.OnError != "pass" {
		return fmt.Errorf("rule.plugin %s: on_error: want \"reject\" or \"pass\"; got %q", p.name(), p.OnError)
	}
	return nil
}

// Cleanup implements module.CleanerUpper: it drops the module's hold on the
// running plugin, which is stopped (killed and waited for) unless the
// module that replaced this one in a reload still uses it. It is safe
// after a half-finished Provision and when called twice.
func (p *Plugin) Cleanup() error {
	if p.release != nil {
		p.release()
	}
	return nil
}

func (p *Plugin) name() string { return commandName(p.Command) }

func commandName(command []string) string {
	if len(command) == 0 {
		return `""`
	}
	return fmt.Sprintf("%q", command[0])
}

// The counts below are those of the rule instance (its client, place
// and module), which a reload that keeps the rule in place carries over
// to the new module: see module.Context.EventCounter. The mux exports them
// as smppmux_rule_events_total{event="calls"|"errors"|"restarts"|"batches"}.

// Calls returns how many messages were given to the rule.
func (p *Plugin) Calls() uint64 {
	return p.counter(func(r *runner) *module.EventCounter { return r.calls })
}

// Errors returns how many messages got on_error: the plugin was down,
// timed out, crashed, or its rule failed.
func (p *Plugin) Errors() uint64 {
	return p.counter(func(r *runner) *module.EventCounter { return r.errs })
}

// Restarts returns how many times the plugin was started again.
func (p *Plugin) Restarts() uint64 {
	return p.counter(func(r *runner) *module.EventCounter { return r.restarts })
}

// Batches returns how many SubmitBatch calls were made; Calls/Batches is
// the mean batch size.
func (p *Plugin) Batches() uint64 {
	return p.counter(func(r *runner) *module.EventCounter { return r.batches })
}

// counter loads one of the runner's counters; 0 before Provision.
func (p *Plugin) counter(c func(*runner) *module.EventCounter) uint64 {
	if p.runner == nil {
		return 0
	}
	return c(p.runner).Load()
}

// PID returns the process id of the running plugin, or 0 while it is down.
func (p *Plugin) PID() int {
	if p.runner == nil {
		return 0
	}
	return p.pid()
}

func (r *runner) pid() int {
	if inst := r.cur.Load(); inst != nil {
		return inst.pid
	}
	return 0
}

// Submit implements module.Rule. It hands the message to a worker and waits
// for the verdict at most timeout; it never blocks longer.
func (p *Plugin) Submit(m *module.Message) error {
	if p.runner == nil { // never provisioned
		return errUnavailable
	}
	p.calls.Add(1)
	if p.cur.Load() == nil {
		return p.fail(m, errUnavailable, nil)
	}
	c := getCall()
	c.fill(m)
	c.deadline = time.Now().Add(p.timeout)
	c.timer.Reset(p.timeout)
	select {
	case p.queue <- c:
	case <-c.timer.C:
		putCall(c) // never queued: still ours
		return p.fail(m, errTimeout, nil)
	case <-p.done:
		c.timer.Stop()
		putCall(c)
		return p.fail(m, errUnavailable, nil)
	}
	select {
	case <-c.done:
		c.timer.Stop()
		err := p.apply(m, c)
		putCall(c)
		return err
	case <-c.timer.C:
		return p.fail(m, errTimeout, nil) // c stays with the worker
	case <-p.done:
		return p.fail(m, errUnavailable, nil)
	}
}

// apply turns a finished call into Submit's result.
func (p *runner) apply(m *module.Message, c *call) error {
	switch {
	case errors.Is(c.err, context.DeadlineExceeded):
		return p.fail(m, errTimeout, c.err)
	case c.err != nil:
		return p.fail(m, errUnavailable, c.err)
	case c.res.Err != nil:
		return p.fail(m, errRuleFailed, c.res.Err)
	}
	v := c.res.Verdict
	switch v.Action {
	case sdk.ActionPass:
		return nil
	case sdk.ActionReject:
		if ce := p.log.Check(zap.DebugLevel, "external rule rejected a message"); ce != nil {
			ce.Write(zap.String("system_id", m.Client), zap.Uint32("command_status", v.Status), zap.String("reason", v.Reason))
		}
		if v.Status == 0 {
			return p.fail(m, errRuleFailed, errors.New("reject without a status"))
		}
		if v.Status < uint32(len(rejects)) {
			return rejects[v.Status]
		}
		return &pdu.StatusError{Status: pdu.Status(v.Status), Reason: "rejected by external rule"}
	case sdk.ActionChange:
		if err := ApplyEdits(m, v.Edits); err != nil {
			return p.fail(m, errRuleFailed, err)
		}
		return nil
	}
	return p.fail(m, errRuleFailed, fmt.Errorf("unknown verdict action %d", v.Action))
}

// ApplyEdits applies the edits of a plugin's ActionChange verdict to m
// through its setters, in order. It checks them all first: with one that
// would make an invalid submit_sm, it returns an error and applies none.
// Tests of rule chains use it to edit as a plugin does.
func ApplyEdits(m *module.Message, edits []sdk.Edit) error {
	if err := checkEdits(edits); err != nil {
		return err
	}
	for _, e := range edits {
		switch e.Kind {
		case sdk.EditTLV:
			m.SetTLV(pdu.Tag(e.Tag), e.Value)
		case sdk.EditPriority:
			m.SetPriority(e.Number)
		case sdk.EditDestTON:
			m.SetDestTON(e.Number)
		case sdk.EditSourceAddr:
			m.SetSourceAddr(string(e.Value))
		case sdk.EditDeleteTLV:
			m.DeleteTLV(pdu.Tag(e.Tag))
		case sdk.EditShortMessage:
			m.SetShortMessage(e.Value)
		case sdk.EditDataCoding:
			m.SetDataCoding(e.Number)
		case sdk.EditESMClass:
			m.SetESMClass(e.Number)
		case sdk.EditRegisteredDelivery:
			m.SetRegisteredDelivery(e.Number)
		}
	}
	return nil
}

// checkEdits refuses edits that would make an invalid submit_sm, before
// any is applied.
func checkEdits(edits []sdk.Edit) error {
	for _, e := range edits {
		switch {
		case e.Kind == sdk.EditTLV && len(e.Value) > 0xFFFF:
			return fmt.Errorf("tlv 0x%04x: value of %d octets", e.Tag, len(e.Value))
		case e.Kind == sdk.EditSourceAddr && len(e.Value) > 20: // SMPP 3.4 §5.2.8
			return fmt.Errorf("source_addr of %d octets", len(e.Value))
		case e.Kind == sdk.EditSourceAddr && bytes.IndexByte(e.Value, 0) >= 0:
			// A C-octet string ends at its NUL: the fields after it would shift.
			return fmt.Errorf("source_addr with a NUL")
		case e.Kind == sdk.EditShortMessage && len(e.Value) > pdu.MaxShortMessage: // SMPP 3.4 §5.2.21
			return fmt.Errorf("short_message of %d octets; longer text goes in message_payload", len(e.Value))
		case e.Kind < sdk.EditTLV || e.Kind > sdk.EditRegisteredDelivery:
			return fmt.Errorf("unknown edit kind %d", e.Kind)
		}
	}
	return nil
}

// fail counts a failed call and applies on_error. The cause is logged at
// Debug only: a plugin that is down fails every message, and its restart
// is logged once by the supervisor.
func (p *runner) fail(m *module.Message, reject *pdu.StatusError, cause error) error {
	p.errs.Add(1)
	if p.log == nil { // never provisioned
		return reject
	}
	if ce := p.log.Check(zap.DebugLevel, "external rule failed"); ce != nil {
		ce.Write(zap.String("system_id", m.Client), zap.String("outcome", reject.Reason), zap.Error(cause), zap.Bool("pass", p.pass))
	}
	if p.pass {
		return nil
	}
	return reject
}

// Env is extra environment for the plugin process, added to the mux's
// own. In TOML it is a table (env = { LEVEL = "debug" }) or a list of
// "NAME=value" strings (env = ["LEVEL=debug"]).
type Env []string

// UnmarshalTOML implements toml.Unmarshaler.
func (e *Env) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, ok := v[k].(string)
			if !ok {
				return fmt.Errorf("env: %s: want a string, got %T", k, v[k])
			}
			*e = append(*e, k+"="+s)
		}
	case []any:
		for i, x := range v {
			s, ok := x.(string)
			if !ok || strings.IndexByte(s, '=') <= 0 {
				return fmt.Errorf("env[%d]: want \"NAME=value\", got %v", i, x)
			}
			*e = append(*e, s)
		}
	default:
		return fmt.Errorf("env: want a table or a list of \"NAME=value\", got %T", v)
	}
	return nil
}
