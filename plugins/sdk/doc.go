// Package sdk is everything an author of an external smpp-mux rule
// imports: the plain Go types a rule sees (Message, TLV), what it answers
// (Verdict, Edit), the Rule interface it implements, and Serve, which runs
// it as a hashicorp/go-plugin plugin over gRPC.
//
// A whole plugin:
//
//	type myRule struct{}
//
//	func (myRule) Submit(ctx context.Context, m *sdk.Message) (sdk.Verdict, error) {
//		if len(m.ShortMessage) == 0 {
//			return sdk.Reject(sdk.StatusInvMsgLen, "empty message"), nil
//		}
//		return sdk.Pass(), nil
//	}
//
//	func main() { sdk.Serve(myRule{}) }
//
// The mux starts the binary named by the rule's command key and talks to
// it over a local socket. A plugin never writes to stdout, which go-plugin
// uses for its handshake; it logs to stderr, best through Logger, whose
// lines reach the mux's log at their level.
//
// Start reading at Rule and Verdict; the Status and Tag constants name
// the SMPP 3.4 command statuses and TLV tags a rule uses.
// plugins/examples/premium-class is a complete plugin with its README.
// Package sdk/sdktest runs a rule in a test as the mux would, without a
// mux or a binary.
//
// The mux's end of the protocol (the go-plugin handshake and client) is
// package sdk/host, which a plugin never imports; the generated protobuf
// stays in internal/rulepb behind the converters in convert.go and in
// sdk/host.
package sdk
