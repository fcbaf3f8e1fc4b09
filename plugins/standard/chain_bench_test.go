package standard_test

import (
	"context"
	"testing"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/standard"
)

// chainConfig is a client with every built-in rule, the rate limit too
// high to bite.
const chainConfig = `
[store]
module = "memory"
[upstream]
system_id = "acct"
[[upstream.host]]
address = "127.0.0.1:1"
[[client]]
system_id = "shop"
password = "pw"
  [[client.rule]]
  module = "message_class"
  class = "premium"
  [[client.rule]]
  module = "priority"
  max = 1
  [[client.rule]]
  module = "rate_limit"
  rate = 1e9
  [[client.rule]]
  module = "dest_ton"
  [[client.rule]]
  module = "encoding_check"
  [[client.rule]]
  module = "sender"
  allow = ["Shop", "4512345678"]
`

// loadChain decodes chainConfig and provisions its rules, as mux.New does.
func loadChain(b *testing.B) []module.Rule {
	b.Helper()
	cfg, err := mux.Parse([]byte(chainConfig))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := module.NewContext(context.Background(), nil)
	b.Cleanup(func() { cancel(); _ = ctx.Cleanup() })
	var rules []module.Rule
	for _, m := range cfg.Clients[0].Rules {
		if err := ctx.LoadModule(m.MuxModule().ID, m); err != nil {
			b.Fatal(err)
		}
		rules = append(rules, m.(module.Rule))
	}
	return rules
}

// typicalFrame is a one-part GSM 7-bit submit_sm with a receipt request and
// a user_message_reference, as a legacy client sends it; withClass adds the
// message_class the chain sets, so that nothing changes.
func typicalFrame(withClass bool) []byte {
	tlvs := pdu.AppendTLV(nil, pdu.TagUserMessageReference, []byte{0, 42})
	if withClass {
		tlvs = pdu.AppendTLV(tlvs, pdu.TagMessageClass, []byte("premium"))
	}
	sm := pdu.SM{
		SourceTON: 5, SourceAddr: []byte("Shop"),
		DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
		RegisteredDelivery: 1, ValidityPeriod: []byte("000001000000000R"),
		ShortMessage: []byte("Your code is 123456. It expires in 10 minutes. Do not share it."),
		TLVs:         tlvs,
	}
	return pdu.Append(nil, pdu.CmdSubmitSM, 0, 7, &sm)
}

// BenchmarkChain runs the whole built-in chain over a typical submit_sm.
// "rules" is the chain alone; "decode_rules_encode" adds what the mux does
// around it: decode the body, and encode the frame anew when a rule
// changed it.
//
// The mux reuses one Message per session and resets its scratch buffer
// per submit, which a test outside package mux cannot do; the changed
// cases start a fresh Message every 1024 submits instead, so the scratch
// buffer is reused as in a session and its growth amortizes to 0 allocs/op.
func BenchmarkChain(b *testing.B) {
	for _, bc := range []struct {
		name      string
		withClass bool
	}{
		{"unchanged", true},
		{"message_class_changed", false},
	} {
		frame := typicalFrame(bc.withClass)
		b.Run(bc.name+"/rules", func(b *testing.B) {
			rules := loadChain(b)
			m := new(module.Message)
			if err := m.SM.Decode(frame[pdu.HeaderLen:]); err != nil {
				b.Fatal(err)
			}
			orig := m.SM
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i++; i%1024 == 0 {
					*m = module.Message{}
				}
				m.SM = orig
				run(b, rules, m, !bc.withClass)
			}
		})
		b.Run(bc.name+"/decode_rules_encode", func(b *testing.B) {
			rules := loadChain(b)
			m := new(module.Message)
			out := make([]byte, 0, 512)
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			i := 0
			for b.Loop() {
				if i++; i%1024 == 0 {
					*m = module.Message{}
				}
				m.Client = "shop"
				if err := m.SM.Decode(frame[pdu.HeaderLen:]); err != nil {
					b.Fatal(err)
				}
				run(b, rules, m, !bc.withClass)
				if m.Changed() {
					out = pdu.Append(out[:0], pdu.CmdSubmitSM, 0, pdu.Seq(frame), &m.SM)
				}
			}
		})
	}
}

// run applies rules in order, as the mux's chain does, and checks the
// message passed and changed as expected.
func run(b *testing.B, rules []module.Rule, m *module.Message, wantChange bool) {
	for _, r := range rules {
		if err := r.Submit(m); err != nil {
			b.Fatalf("%s: %v", r.MuxModule().ID, err)
		}
	}
	if m.Changed() != wantChange {
		b.Fatalf("changed %v, want %v", m.Changed(), wantChange)
	}
}
