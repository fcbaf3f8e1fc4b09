// Package sdktest runs an sdk.Rule in a test the way the mux runs it,
// without a mux or a plugin binary: the rule is served in process over
// the plugin protocol (go-plugin's in-memory gRPC connection, the same
// converters as a real plugin), and its edits are applied by the mux's own
// code to the message built from plain fields. A test sees what the
// provider (or, for Deliver, the client) would get.
//
//	func TestMyRule(t *testing.T) {
//		p := sdktest.New(t, myRule{})
//		got := p.Submit(sdk.Message{DestAddr: "4512345678", ShortMessage: []byte("hi")})
//		if got.Status != sdk.StatusOK || got.Message.DestTON != 1 { ... }
//	}
package sdktest

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/external"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/host"
)

// Timeout is the deadline of each call, as the rule's timeout key is in
// the mux (its default).
var Timeout = external.DefaultTimeout

// Plugin is a rule served in process for a test. Its methods may be
// called from several goroutines at once, as the mux does.
type Plugin struct {
	tb     testing.TB
	client *host.Client
}

// New serves rule for the test tb; the connection is closed when the test
// ends.
func New(tb testing.TB, rule sdk.Rule) *Plugin {
	tb.Helper()
	c, _ := plugin.TestPluginGRPCConn(tb, false, host.PluginSet(rule))
	tb.Cleanup(func() { _ = c.Close() })
	raw, err := c.Dispense(host.PluginName)
	if err != nil {
		tb.Fatal(err)
	}
	return &Plugin{tb: tb, client: raw.(*host.Client)}
}

// Result is what the mux makes of the rule's answer for one message.
type Result struct {
	// Verdict is the rule's answer as the mux received it.
	Verdict sdk.Verdict
	// Status is the command_status the client gets for a submit_sm:
	// StatusOK when the message goes on, the Reject's status, or
	// StatusSysErr when the rule failed (on_error's default, "reject").
	// For a deliver_sm, non-zero means it is dropped.
	Status uint32
	// Err says why the rule failed: its error or panic, a Reject
	// without a status, or edits the mux refuses. Nil otherwise.
	Err error
	// Changed reports whether an edit changed the message.
	Changed bool
	// Message is the message as it goes on, its edits applied; for a
	// message that does not go on, it is as sent.
	Message sdk.Message
}

// Submit runs the rule's Submit on m as the mux does for a submit_sm of
// client m.Client.
func (p *Plugin) Submit(m sdk.Message) Result {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	out := make([]host.Result, 1)
	if err := p.client.SubmitBatch(ctx, []*sdk.Message{&m}, out); err != nil {
		p.tb.Fatalf("sdktest: submit: %v", err)
	}
	return apply(m, out[0].Verdict, out[0].Err)
}

// Deliver runs the rule's Deliver (sdk.Deliverer) on m as the mux does
// for a deliver_sm on its way to client m.Client. A rule that is not a
// Deliverer fails the test.
func (p *Plugin) Deliver(m sdk.Message) Result {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	v, err := p.client.Deliver(ctx, &m)
	var re *host.RuleError
	if err != nil && !errors.As(err, &re) {
		p.tb.Fatalf("sdktest: deliver: %v", err)
	}
	return apply(m, v, err)
}

// apply makes the Result of verdict v (or the rule's error) on m.
func apply(m sdk.Message, v sdk.Verdict, err error) Result {
	r := Result{Verdict: v, Message: m}
	if err != nil {
		r.Status, r.Err = sdk.StatusSysErr, err
		return r
	}
	switch v.Action {
	case sdk.ActionPass:
	case sdk.ActionReject:
		r.Status = v.Status
		if v.Status == 0 {
			r.Status, r.Err = sdk.StatusSysErr, errors.New("reject without a status")
		}
	case sdk.ActionChange:
		mm := toMux(&m)
		if err := external.ApplyEdits(mm, v.Edits); err != nil {
			r.Status, r.Err = sdk.StatusSysErr, err
			return r
		}
		r.Changed, r.Message = mm.Changed(), fromMux(mm)
	}
	return r
}

// toMux is the mux's message for m.
func toMux(m *sdk.Message) *module.Message {
	var tlvs []byte
	for _, t := range m.TLVs {
		tlvs = pdu.AppendTLV(tlvs, pdu.Tag(t.Tag), t.Value)
	}
	mm := new(module.Message)
	mm.Reset(m.Client)
	mm.SM = pdu.SM{
		SourceTON: m.SourceTON, SourceNPI: m.SourceNPI, SourceAddr: []byte(m.SourceAddr),
		DestTON: m.DestTON, DestNPI: m.DestNPI, DestAddr: []byte(m.DestAddr),
		ESMClass: m.ESMClass, PriorityFlag: m.PriorityFlag, DataCoding: m.DataCoding,
		RegisteredDelivery: m.RegisteredDelivery, ShortMessage: m.ShortMessage, TLVs: pdu.TLVs(tlvs),
	}
	return mm
}

// fromMux is the sdk.Message of mm.
func fromMux(mm *module.Message) sdk.Message {
	sm := &mm.SM
	m := sdk.Message{
		Client: mm.Client, SourceTON: sm.SourceTON, SourceNPI: sm.SourceNPI, SourceAddr: string(sm.SourceAddr),
		DestTON: sm.DestTON, DestNPI: sm.DestNPI, DestAddr: string(sm.DestAddr),
		ESMClass: sm.ESMClass, PriorityFlag: sm.PriorityFlag, DataCoding: sm.DataCoding,
		RegisteredDelivery: sm.RegisteredDelivery, ShortMessage: sm.ShortMessage,
	}
	for tag, v := range sm.TLVs.All() {
		m.TLVs = append(m.TLVs, sdk.TLV{Tag: uint16(tag), Value: v})
	}
	return m
}
