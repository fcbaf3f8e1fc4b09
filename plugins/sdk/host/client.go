// Package host is the mux's end of the rule plugin protocol: the go-plugin
// handshake and plugin set a host starts a plugin with, and Client, which
// sends it messages and reads its verdicts. Package plugins/external uses
// it; plugin authors import package sdk alone and never this one.
package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/bridge"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

// Handshake is go-plugin's handshake, built from the constants package sdk
// defines for both ends.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  sdk.ProtocolVersion,
	MagicCookieKey:   sdk.MagicCookieKey,
	MagicCookieValue: sdk.MagicCookieValue,
}

// PluginName is the name a rule is dispensed under.
const PluginName = sdk.PluginName

// PluginSet is the go-plugin plugin set of the rule protocol. A host
// passes PluginSet(nil) to dispense a *Client; a test passes a rule to
// serve it in process (go-plugin's TestPluginGRPCConn) as sdk.Serve does.
func PluginSet(rule sdk.Rule) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &Plugin{Rule: rule}}
}

// Plugin is the go-plugin GRPCPlugin of the rule protocol: the host side
// dispenses a *Client; with a Rule, the server side serves it.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Rule sdk.Rule // in-process tests only
}

// GRPCServer implements plugin.GRPCPlugin, for in-process tests.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Rule == nil {
		return fmt.Errorf("host: serving needs a Rule")
	}
	rulepb.RegisterRuleServer(s, bridge.NewServer(p.Rule))
	return nil
}

// GRPCClient implements plugin.GRPCPlugin; go-plugin calls it when the
// rule is dispensed. It returns a *Client.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{rc: rulepb.NewRuleClient(c)}, nil
}

// ErrUnimplemented is returned by Client methods for an optional RPC the
// plugin does not implement (gRPC codes.Unimplemented).
var ErrUnimplemented = errors.New("not implemented by the plugin")

// Client is the host's end of a running plugin, dispensed by go-plugin
// under PluginName. It is safe for concurrent use; plugins/external keeps
// several SubmitBatch calls in flight on one Client.
type Client struct {
	rc rulepb.RuleClient
}

// Result is the outcome for one message of a batch: the plugin's verdict,
// or Err when the rule failed on that message (a *RuleError) or sent an
// answer this version cannot read.
type Result struct {
	Verdict sdk.Verdict
	Err     error
}

// Info asks the plugin to describe itself; it returns ErrUnimplemented
// when the rule does not implement Describer.
func (c *Client) Info(ctx context.Context) (sdk.Info, error) {
	r, err := c.rc.Info(ctx, &rulepb.InfoRequest{})
	if err != nil {
		return sdk.Info{}, wrapRPC("info", err)
	}
	return sdk.Info{Name: r.GetName(), Version: r.GetVersion()}, nil
}

// SubmitBatch asks the plugin for a verdict on each of msgs and stores
// them in out[:len(msgs)]. ctx must carry a deadline. An error means no
// verdict at all: the plugin is unreachable, crashed, timed out, or broke
// the protocol.
func (c *Client) SubmitBatch(ctx context.Context, msgs []*sdk.Message, out []Result) error {
	req := &rulepb.SubmitBatchRequest{Messages: make([]*rulepb.Message, len(msgs))}
	for i, m := range msgs {
		req.Messages[i] = messageToProto(m)
	}
	resp, err := c.rc.SubmitBatch(ctx, req)
	if err != nil {
		return wrapRPC("submit batch", err)
	}
	if len(resp.GetVerdicts()) != len(msgs) {
		return fmt.Errorf("submit batch: plugin sent %d verdicts for %d messages", len(resp.GetVerdicts()), len(msgs))
	}
	for i, pv := range resp.GetVerdicts() {
		out[i].Verdict, out[i].Err = verdictFromProto(pv)
	}
	return nil
}

// Deliver asks the plugin for a verdict on one deliver_sm. It returns
// ErrUnimplemented when the rule does not implement sdk.Deliverer; a
// *RuleError when the rule failed on it. m nil is a probe: nil error
// means the plugin implements Deliver.
func (c *Client) Deliver(ctx context.Context, m *sdk.Message) (sdk.Verdict, error) {
	req := &rulepb.DeliverRequest{}
	if m != nil {
		req.Message = messageToProto(m)
	}
	resp, err := c.rc.Deliver(ctx, req)
	if err != nil {
		return sdk.Verdict{}, wrapRPC("deliver", err)
	}
	if m == nil {
		return sdk.Verdict{}, nil
	}
	return verdictFromProto(resp.GetVerdict())
}

// wrapRPC names the call and maps the gRPC status codes a host acts on to
// errors it can match: ErrUnimplemented, context.DeadlineExceeded and
// context.Canceled.
func wrapRPC(what string, err error) error {
	switch status.Code(err) {
	case codes.Unimplemented:
		return fmt.Errorf("%s: %w", what, ErrUnimplemented)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", what, context.DeadlineExceeded)
	case codes.Canceled:
		return fmt.Errorf("%s: %w", what, context.Canceled)
	}
	return fmt.Errorf("%s: %w", what, err)
}
