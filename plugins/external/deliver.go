package external

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/host"
)

// A plugin whose rule implements sdk.Deliverer also sees the client's
// deliver_sm (receipts and MOs): Provision probes for it, and the mux
// puts the module in the client's deliver chain only when WantsDeliver
// says so. A deliver_sm is one Deliver call (they are far fewer than
// submits), under the rule's timeout, on the client's dispatcher.

// probeDeliver asks inst whether its rule implements Deliver.
func (p *runner) probeDeliver(ctx context.Context, inst *instance) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := inst.rule.Deliver(ctx, nil)
	p.deliver.Store(err == nil)
	if err != nil && !errors.Is(err, host.ErrUnimplemented) {
		p.log.Warn("external rule did not answer the deliver probe; its deliver_sm hook is off", zap.Error(err))
	}
}

// WantsDeliver implements module.DeliverOptional: the module is in the
// client's deliver chain only when the plugin implements Deliver.
func (p *Plugin) WantsDeliver() bool { return p.runner != nil && p.deliver.Load() }

// Deliver implements module.DeliverRule. The plugin's verdict changes the
// deliver_sm or drops it (a reject); when the plugin fails (down,
// timeout, rule error) the deliver_sm goes on unchanged, whatever
// on_error says, so that a broken plugin never loses a receipt. A plugin
// restarted without Deliver answers Unimplemented, and is not asked
// again.
func (p *Plugin) Deliver(m *module.Message) error {
	if !p.WantsDeliver() {
		return nil
	}
	inst := p.cur.Load()
	if inst == nil {
		p.deliverFailed(m, errUnavailable)
		return nil
	}
	p.calls.Add(1)
	msg := toSDK(m)
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	v, err := inst.rule.Deliver(ctx, &msg)
	cancel()
	if errors.Is(err, host.ErrUnimplemented) {
		p.deliver.Store(false)
		p.log.Info("external rule no longer implements Deliver; its deliver_sm hook is off", zap.Strings("command", p.command))
		return nil
	}
	if err != nil {
		p.deliverFailed(m, err)
		return nil
	}
	switch v.Action {
	case sdk.ActionReject:
		if ce := p.log.Check(zap.DebugLevel, "external rule dropped a deliver_sm"); ce != nil {
			ce.Write(zap.String("system_id", m.Client), zap.Uint32("command_status", v.Status), zap.String("reason", v.Reason))
		}
		return &pdu.StatusError{Status: pdu.Status(v.Status), Reason: "deliver_sm dropped by external rule"}
	case sdk.ActionChange:
		if err := ApplyEdits(m, v.Edits); err != nil {
			p.deliverFailed(m, err)
		}
	}
	return nil
}

// deliverFailed counts and logs, at Debug, a Deliver that failed.
func (p *runner) deliverFailed(m *module.Message, cause error) {
	p.errs.Add(1)
	if ce := p.log.Check(zap.DebugLevel, "external rule failed on a deliver_sm; delivering it unchanged"); ce != nil {
		ce.Write(zap.String("system_id", m.Client), zap.Error(cause))
	}
}

// toSDK is the sdk.Message of m; its slices share m's bytes, which stay
// put until Deliver returns.
func toSDK(m *module.Message) sdk.Message {
	var tlvs []sdk.TLV
	for tag, v := range m.SM.TLVs.All() {
		tlvs = append(tlvs, sdk.TLV{Tag: uint16(tag), Value: v})
	}
	return sdkMessage(m, m.SM.ShortMessage, tlvs)
}
