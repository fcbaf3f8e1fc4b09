// Command tlvplugin is an external rule for the mux's end-to-end tests. It
// sets one TLV, -tag, on every submit_sm to a value that records what the
// rule saw: -label, then source_addr, priority_flag and the tags of the
// TLVs the message arrived with, in wire order, so that a test can tell
// from the provider's side which rules ran before it and what they left.
// With -delay each call takes that long, as a rule that asks another
// service would, so that calls are in flight whenever the mux looks.
package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
)

type setTLV struct {
	tag   uint16
	label string
	delay time.Duration
}

// Submit implements sdk.Rule.
func (r setTLV) Submit(ctx context.Context, m *sdk.Message) (sdk.Verdict, error) {
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return sdk.Verdict{}, ctx.Err()
		}
	}
	tags := make([]string, len(m.TLVs))
	for i, t := range m.TLVs {
		tags[i] = fmt.Sprintf("%04x", t.Tag)
	}
	v := fmt.Sprintf("%s/%s/%d/%s", r.label, m.SourceAddr, m.PriorityFlag, strings.Join(tags, ","))
	return sdk.Change(sdk.SetTLV(r.tag, []byte(v))), nil
}

func main() {
	tag := flag.Uint("tag", 0x1401, "the TLV tag to set")
	label := flag.String("label", "plugin", "first part of the value")
	delay := flag.Duration("delay", 0, "how long each call takes")
	flag.Parse()
	sdk.Serve(setTLV{tag: uint16(*tag), label: *label, delay: *delay})
}
