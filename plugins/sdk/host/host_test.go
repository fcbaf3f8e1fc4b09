package host

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

// ruleFunc is an sdk.Rule made of a function.
type ruleFunc func(context.Context, *sdk.Message) (sdk.Verdict, error)

func (f ruleFunc) Submit(ctx context.Context, m *sdk.Message) (sdk.Verdict, error) { return f(ctx, m) }

// connect serves rule over go-plugin's in-process gRPC connection and
// returns the host's Client.
func connect(t *testing.T, rule sdk.Rule) *Client {
	t.Helper()
	c, _ := plugin.TestPluginGRPCConn(t, false, PluginSet(rule))
	t.Cleanup(func() { _ = c.Close() })
	raw, err := c.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*Client)
}

// submitOne sends m alone and returns the plugin's result.
func submitOne(t *testing.T, c *Client, m *sdk.Message) Result {
	t.Helper()
	out := make([]Result, 1)
	if err := c.SubmitBatch(context.Background(), []*sdk.Message{m}, out); err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestMessageRoundTrip(t *testing.T) {
	t.Parallel()
	in := sdk.Message{
		Client: "shop", SourceTON: 5, SourceNPI: 0, SourceAddr: "Shop", DestTON: 1, DestNPI: 1,
		DestAddr: "4512345678", ESMClass: 0x40, PriorityFlag: 2, DataCoding: 8, RegisteredDelivery: 1,
		ShortMessage: []byte("hi"),
		TLVs:         []sdk.TLV{{Tag: 0x0204, Value: []byte{0, 7}}, {Tag: 0x2900, Value: []byte("premium")}, {Tag: 0x1234, Value: []byte{}}},
	}
	var mu sync.Mutex
	var out sdk.Message
	c := connect(t, ruleFunc(func(_ context.Context, m *sdk.Message) (sdk.Verdict, error) {
		mu.Lock()
		defer mu.Unlock()
		out = *m
		return sdk.Pass(), nil
	}))
	submitOne(t, c, &in)
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if v, ok := out.TLV(0x2900); !ok || string(v) != "premium" {
		t.Errorf("TLV(0x2900) = %q, %v", v, ok)
	}
}

func TestVerdictRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v       sdk.Verdict
		err     error
		want    sdk.Verdict
		wantErr bool
	}{
		{name: "pass", v: sdk.Pass(), want: sdk.Pass()},
		{name: "empty change is pass", v: sdk.Change(), want: sdk.Pass()},
		{name: "reject", v: sdk.Reject(sdk.StatusInvDstAddr, "bad"), want: sdk.Reject(sdk.StatusInvDstAddr, "bad")},
		{name: "change", v: sdk.Change(sdk.SetTLV(sdk.TagMessageClass, []byte("premium")), sdk.SetPriority(1), sdk.SetDestTON(1), sdk.SetSourceAddr("Brand"), sdk.DeleteTLV(sdk.TagMessagePayload), sdk.SetShortMessage([]byte("x")), sdk.SetDataCoding(8), sdk.SetESMClass(0x40), sdk.SetRegisteredDelivery(1)),
			want: sdk.Change(sdk.SetTLV(sdk.TagMessageClass, []byte("premium")), sdk.SetPriority(1), sdk.SetDestTON(1), sdk.SetSourceAddr("Brand"), sdk.DeleteTLV(sdk.TagMessagePayload), sdk.SetShortMessage([]byte("x")), sdk.SetDataCoding(8), sdk.SetESMClass(0x40), sdk.SetRegisteredDelivery(1))},
		{name: "error", err: errors.New("boom"), wantErr: true},
		{name: "unknown action", v: sdk.Verdict{Action: 9}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := connect(t, ruleFunc(func(context.Context, *sdk.Message) (sdk.Verdict, error) { return tc.v, tc.err }))
			r := submitOne(t, c, &sdk.Message{})
			if tc.wantErr {
				var re *RuleError
				if !errors.As(r.Err, &re) {
					t.Fatalf("err %v, want a *RuleError", r.Err)
				}
				return
			}
			if r.Err != nil || !reflect.DeepEqual(r.Verdict, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", r.Verdict, r.Err, tc.want)
			}
		})
	}
	if _, err := verdictFromProto(&rulepb.Verdict{Action: rulepb.Verdict_CHANGE, Edits: []*rulepb.Edit{{Kind: 99}}}); err == nil {
		t.Error("an unknown edit kind was accepted")
	}
	if _, err := verdictFromProto(&rulepb.Verdict{Action: 42}); err == nil {
		t.Error("an unknown action was accepted")
	}
}

type describedRule struct{}

func (describedRule) Submit(context.Context, *sdk.Message) (sdk.Verdict, error) {
	return sdk.Pass(), nil
}
func (describedRule) Describe() sdk.Info { return sdk.Info{Name: "d", Version: "1"} }

type panicRule struct{}

func (panicRule) Submit(context.Context, *sdk.Message) (sdk.Verdict, error) { panic("bug") }

func TestClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if info, err := connect(t, describedRule{}).Info(ctx); err != nil || info.Name != "d" {
		t.Errorf("Info = %+v, %v", info, err)
	}
	c := connect(t, panicRule{})
	if _, err := c.Info(ctx); !errors.Is(err, ErrUnimplemented) {
		t.Errorf("Info without Describer: %v, want ErrUnimplemented", err)
	}
	out := make([]Result, 2)
	if err := c.SubmitBatch(ctx, []*sdk.Message{{}, {}}, out); err != nil {
		t.Fatal(err)
	}
	for i, r := range out {
		var re *RuleError
		if !errors.As(r.Err, &re) {
			t.Errorf("result %d: %+v, want a recovered panic", i, r)
		}
	}
	if err := c.SubmitBatch(ctx, nil, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

func TestWrapRPC(t *testing.T) {
	t.Parallel()
	if err := wrapRPC("x", status.Error(codes.DeadlineExceeded, "late")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	if err := wrapRPC("x", status.Error(codes.Unimplemented, "no")); !errors.Is(err, ErrUnimplemented) {
		t.Errorf("unimplemented: %v", err)
	}
}
