package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

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
	Verdict Verdict
	Err     error
}

// Info asks the plugin to describe itself; it returns ErrUnimplemented
// when the rule does not implement Describer.
func (c *Client) Info(ctx context.Context) (Info, error) {
	r, err := c.rc.Info(ctx, &rulepb.InfoRequest{})
	if err != nil {
		return Info{}, wrapRPC("info", err)
	}
	return Info{Name: r.GetName(), Version: r.GetVersion()}, nil
}

// SubmitBatch asks the plugin for a verdict on each of msgs and stores
// them in out[:len(msgs)]. ctx must carry a deadline. An error means no
// verdict at all: the plugin is unreachable, crashed, timed out, or broke
// the protocol.
func (c *Client) SubmitBatch(ctx context.Context, msgs []*Message, out []Result) error {
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
