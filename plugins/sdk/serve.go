package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/bridge"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

// Serve runs rule as a plugin until the mux stops it; it is all a
// plugin's main function calls. Run by hand (without the mux's handshake
// in its environment) the binary says it is a plugin and exits 1.
func Serve(rule Rule) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  ProtocolVersion,
			MagicCookieKey:   MagicCookieKey,
			MagicCookieValue: MagicCookieValue,
		},
		Plugins:    plugin.PluginSet{PluginName: &servePlugin{rule: rule}},
		GRPCServer: newGRPCServer,
	})
}

func init() {
	bridge.NewServer = func(rule any) rulepb.RuleServer { return &server{rule: rule.(Rule)} }
}

// newGRPCServer is go-plugin's default server with a fixed set of
// goroutines serving streams: the mux makes thousands of short
// SubmitBatch calls a second, and a new goroutine per call would grow
// its stack anew each time.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return plugin.DefaultGRPCServer(append(opts, grpc.NumStreamWorkers(uint32(max(4, runtime.GOMAXPROCS(0))))))
}

// servePlugin is the plugin side of go-plugin's GRPCPlugin; the host
// side is package sdk/host.
type servePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	rule Rule
}

// GRPCServer implements plugin.GRPCPlugin; go-plugin calls it once in the
// plugin process.
func (p *servePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.rule == nil {
		return fmt.Errorf("sdk: Serve needs a Rule")
	}
	rulepb.RegisterRuleServer(s, &server{rule: p.rule})
	return nil
}

// GRPCClient implements plugin.GRPCPlugin; a plugin is never a host.
func (*servePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("sdk: a plugin does not dispense rules")
}

// server adapts a Rule to the generated service.
type server struct {
	rulepb.UnimplementedRuleServer
	rule Rule
}

func (s *server) Info(context.Context, *rulepb.InfoRequest) (*rulepb.InfoResponse, error) {
	d, ok := s.rule.(Describer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "rule does not implement sdk.Describer")
	}
	in := d.Describe()
	return &rulepb.InfoResponse{Name: in.Name, Version: in.Version}, nil
}

// SubmitBatch runs the rule on each message in turn. Batches run
// concurrently, each on its own gRPC goroutine.
func (s *server) SubmitBatch(ctx context.Context, req *rulepb.SubmitBatchRequest) (*rulepb.SubmitBatchResponse, error) {
	msgs := make([]Message, len(req.GetMessages()))
	resp := &rulepb.SubmitBatchResponse{Verdicts: make([]*rulepb.Verdict, len(msgs))}
	for i, pm := range req.GetMessages() {
		if err := ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		messageFromProto(pm, &msgs[i])
		v, err := s.submit(ctx, &msgs[i])
		resp.Verdicts[i] = verdictToProto(v, err)
	}
	return resp, nil
}

// Deliver runs the rule's Deliver on one deliver_sm; a rule that is not
// a Deliverer answers Unimplemented, and the mux never asks again. A
// request without a message is the mux's probe.
func (s *server) Deliver(ctx context.Context, req *rulepb.DeliverRequest) (*rulepb.DeliverResponse, error) {
	d, ok := s.rule.(Deliverer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "rule does not implement sdk.Deliverer")
	}
	if req.GetMessage() == nil {
		return &rulepb.DeliverResponse{}, nil
	}
	var m Message
	messageFromProto(req.GetMessage(), &m)
	v, err := s.call(func() (Verdict, error) { return d.Deliver(ctx, &m) })
	return &rulepb.DeliverResponse{Verdict: verdictToProto(v, err)}, nil
}

// submit calls the rule, turning a panic into an error for this message
// alone.
func (s *server) submit(ctx context.Context, m *Message) (Verdict, error) {
	return s.call(func() (Verdict, error) { return s.rule.Submit(ctx, m) })
}

// call runs f, turning a panic into an error.
func (*server) call(f func() (Verdict, error)) (v Verdict, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// Logger returns a logger for plugin code. It writes JSON lines to stderr
// in the shape go-plugin parses, so each line reaches the mux's log at its
// own level, under the rule's name. Debug lines are dropped by the mux
// unless its log level is debug.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: hclogAttr,
	}))
}

// stderr is the process's real standard error, kept before Serve points
// os.Stderr at go-plugin's stdio stream, which the mux logs unparsed.
var stderr = os.Stderr

// hclogAttr renames slog's built-in keys to hclog's JSON keys.
func hclogAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.LevelKey:
		return slog.String("@level", strings.ToLower(a.Value.String()))
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	}
	return a
}
