package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"
)

func TestMessageRoundTrip(t *testing.T) {
	t.Parallel()
	in := Message{
		Client: "shop", SourceTON: 5, SourceNPI: 0, SourceAddr: "Shop", DestTON: 1, DestNPI: 1,
		DestAddr: "4512345678", ESMClass: 0x40, PriorityFlag: 2, DataCoding: 8, RegisteredDelivery: 1,
		ShortMessage: []byte("hi"),
		TLVs:         []TLV{{Tag: 0x0204, Value: []byte{0, 7}}, {Tag: 0x2900, Value: []byte("premium")}, {Tag: 0x1234, Value: []byte{}}},
	}
	var out Message
	messageFromProto(messageToProto(&in), &out)
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if v, ok := out.TLV(0x2900); !ok || string(v) != "premium" {
		t.Errorf("TLV(0x2900) = %q, %v", v, ok)
	}
}

func TestParseTLVsMalformed(t *testing.T) {
	t.Parallel()
	got := parseTLVs([]byte{0x02, 0x04, 0x00, 0x02, 0, 7, 0x29, 0x00, 0x00, 0x09, 'x'})
	if len(got) != 1 || got[0].Tag != 0x0204 {
		t.Fatalf("got %+v, want the first TLV only", got)
	}
}

func TestVerdictRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v       Verdict
		err     error
		want    Verdict
		wantErr bool
	}{
		{name: "pass", v: Pass(), want: Pass()},
		{name: "empty change is pass", v: Change(), want: Pass()},
		{name: "reject", v: Reject(0x0B, "bad"), want: Reject(0x0B, "bad")},
		{name: "change", v: Change(SetTLV(0x2900, []byte("premium")), SetPriority(1), SetDestTON(1), SetSourceAddr("Brand")),
			want: Change(SetTLV(0x2900, []byte("premium")), SetPriority(1), SetDestTON(1), SetSourceAddr("Brand"))},
		{name: "error", err: errors.New("boom"), wantErr: true},
		{name: "unknown action", v: Verdict{Action: 9}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := verdictFromProto(verdictToProto(tc.v, tc.err))
			if tc.wantErr {
				var re *RuleError
				if !errors.As(err, &re) {
					t.Fatalf("err %v, want a *RuleError", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
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

func (describedRule) Submit(context.Context, *Message) (Verdict, error) { return Pass(), nil }
func (describedRule) Describe() Info                                    { return Info{Name: "d", Version: "1"} }

type panicRule struct{}

func (panicRule) Submit(context.Context, *Message) (Verdict, error) { panic("bug") }

// connect serves rule over go-plugin's in-process gRPC connection and
// returns the host's Client.
func connect(t *testing.T, rule Rule) *Client {
	t.Helper()
	c, _ := plugin.TestPluginGRPCConn(t, false, PluginSet(rule))
	t.Cleanup(func() { _ = c.Close() })
	raw, err := c.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*Client)
}

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
	if err := c.SubmitBatch(ctx, []*Message{{}, {}}, out); err != nil {
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

// TestLoggerShape checks that Logger writes what go-plugin parses into a
// level: @level, @message and @timestamp in hclog's layout.
func TestLoggerShape(t *testing.T) {
	var buf bytes.Buffer
	old := stderr
	defer func() { stderr = old }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr = w
	Logger().Warn("hello", "system_id", "shop")
	_ = w.Close()
	_, _ = buf.ReadFrom(r)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if line["@level"] != "warn" || line["@message"] != "hello" || line["system_id"] != "shop" {
		t.Errorf("line %v", line)
	}
	if ts, _ := line["@timestamp"].(string); len(ts) != len("2006-01-02T15:04:05.000000Z") && len(ts) != len("2006-01-02T15:04:05.000000+00:00") {
		t.Errorf("timestamp %q", ts)
	}
}
