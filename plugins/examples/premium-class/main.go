// Command premium-class is an example external rule for smpp-mux: it
// marks messages to destinations starting with a prefix as message_class
// "premium" (GatewayAPI's vendor TLV 0x2900) and rejects empty messages
// with ESME_RINVMSGLEN. README.md shows how to build and configure it.
package main

import (
	"context"
	"flag"
	"strings"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
)

// premiumClass is the rule. It holds no mutable state, so concurrent
// calls need no locking.
type premiumClass struct {
	prefix string // destination_addr prefix, e.g. "45"
	class  []byte // message_class value
}

// Submit implements sdk.Rule.
func (r premiumClass) Submit(_ context.Context, m *sdk.Message) (sdk.Verdict, error) {
	if payload, _ := m.TLV(sdk.TagMessagePayload); len(m.ShortMessage) == 0 && len(payload) == 0 {
		return sdk.Reject(sdk.StatusInvMsgLen, "empty message"), nil
	}
	if strings.HasPrefix(m.DestAddr, r.prefix) {
		return sdk.Change(sdk.SetTLV(sdk.TagMessageClass, r.class)), nil
	}
	return sdk.Pass(), nil
}

// Describe implements sdk.Describer: the mux logs it when the plugin starts.
func (premiumClass) Describe() sdk.Info { return sdk.Info{Name: "premium-class", Version: "1.0.0"} }

func main() {
	prefix := flag.String("prefix", "45", "destination_addr prefix that gets the class")
	class := flag.String("class", "premium", "message_class value (TLV 0x2900)")
	flag.Parse()
	sdk.Serve(premiumClass{prefix: *prefix, class: []byte(*class)})
}
