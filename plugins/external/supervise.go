package external

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/plugins/sdk/host"
)

// Supervision: a plugin is restarted when its process has exited, when an
// empty SubmitBatch probe fails, or after wedgedAfter batches in a row
// failed (a rule that hangs while the process looks healthy).
const (
	startTimeout = 10 * time.Second       // go-plugin handshake
	checkEvery   = time.Second            // look at an idle plugin this often
	wedgedAfter  = 3                      // failed batches in a row that make a restart
	minBackoff   = 100 * time.Millisecond // first restart delay
	maxBackoff   = 10 * time.Second       // restart delays double up to this
	resetBackoff = 30 * time.Second       // a plugin that ran this long restarts fast again
)

// instance is one started plugin.
type instance struct {
	rule   *host.Client
	pid    int         // 0 in tests that run the plugin in process
	exited func() bool // the process is gone
	stop   func()      // kill it and wait; safe to call twice
	failed atomic.Int32
}

// note records the result of one batch for the wedged check.
func (i *instance) note(err error) {
	if err == nil {
		i.failed.Store(0)
	} else {
		i.failed.Add(1)
	}
}

// startProcess starts the plugin command through go-plugin and dispenses
// its rule.
func (p *runner) startProcess(context.Context) (*instance, error) {
	cmd := exec.Command(p.command[0], p.command[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	dieWithMux(cmd)
	hl := newHCLog(p.log)
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  host.Handshake,
		Plugins:          host.PluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hl,
		StartTimeout:     startTimeout,
		// Lines written to os.Stdout/os.Stderr after sdk.Serve arrive
		// over go-plugin's stdio stream, unparsed.
		SyncStdout: hl.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}),
		SyncStderr: hl.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Info}),
	})
	inst, err := dispense(pc)
	if err != nil {
		pc.Kill()
		return nil, err
	}
	if rc := pc.ReattachConfig(); rc != nil {
		inst.pid = rc.Pid
	}
	inst.exited, inst.stop = pc.Exited, pc.Kill
	return inst, nil
}

// dispense waits for the plugin's handshake and gets its rule.
func dispense(pc *plugin.Client) (*instance, error) {
	rpc, err := pc.Client()
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	raw, err := rpc.Dispense(host.PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense: %w", err)
	}
	rule, ok := raw.(*host.Client)
	if !ok {
		return nil, fmt.Errorf("dispense: got %T, want *host.Client", raw)
	}
	return &instance{rule: rule}, nil
}

// describe logs that a plugin started, with its name and version when it
// gives them (Info is optional).
func (p *runner) describe(ctx context.Context, inst *instance, msg string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	info, err := inst.rule.Info(ctx)
	if err != nil && !errors.Is(err, host.ErrUnimplemented) {
		return err
	}
	p.log.Info(msg, zap.Strings("command", p.command), zap.Int("pid", inst.pid),
		zap.String("plugin_name", info.Name), zap.String("plugin_version", info.Version))
	return nil
}

// supervise watches the running plugin and restarts it with back-off
// when it fails. While it is down, Submit applies on_error at once. When
// ctx ends it stops the plugin and returns.
func (p *runner) supervise(ctx context.Context, inst *instance) {
	defer func() {
		if i := p.cur.Swap(nil); i != nil {
			i.stop()
		}
	}()
	if err := p.describe(ctx, inst, "external rule started"); err != nil {
		p.log.Warn("external rule did not answer after start", zap.Error(err))
	}
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	backoff, since := minBackoff, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-p.kick:
		}
		why := p.check(ctx, inst)
		if why == nil {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		p.cur.Store(nil)
		inst.stop()
		if time.Since(since) > resetBackoff {
			backoff = minBackoff
		}
		p.log.Warn("external rule failed; restarting", zap.Strings("command", p.command), zap.Error(why), zap.Duration("backoff", backoff))
		if inst = p.restart(ctx, &backoff); inst == nil {
			return
		}
		p.cur.Store(inst)
		since = time.Now()
	}
}

// check returns why inst needs a restart, or nil.
func (p *runner) check(ctx context.Context, inst *instance) error {
	if inst.exited != nil && inst.exited() {
		return errors.New("plugin process exited")
	}
	if n := inst.failed.Load(); n >= wedgedAfter {
		return fmt.Errorf("%d batches in a row failed", n)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if err := inst.rule.SubmitBatch(ctx, nil, nil); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

// restart starts a new instance after *backoff, doubling it after each
// failure. It returns nil when ctx ends first.
func (p *runner) restart(ctx context.Context, backoff *time.Duration) *instance {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		*backoff = min(*backoff*2, maxBackoff)
		p.restarts.Add(1)
		inst, err := p.startFn(ctx)
		if err == nil {
			if err = p.describe(ctx, inst, "external rule restarted"); err == nil {
				return inst
			}
			inst.stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		p.log.Warn("external rule restart failed", zap.Strings("command", p.command), zap.Error(err), zap.Duration("backoff", *backoff))
		t.Reset(*backoff)
	}
}
