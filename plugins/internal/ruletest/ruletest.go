// Package ruletest helps the tests of rule modules: it loads a rule
// through the real config loader and provisions it as the mux does, and
// makes submit_sm messages whose fields are views into a frame.
package ruletest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/store/memory" // the store the config names
)

// Head is the smallest whole config mux.Parse accepts; the rule under test
// is appended as the one client's [[client.rule]].
const Head = `
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
`

// Load decodes rule through the real config loader, then provisions and
// validates it as the mux does. The error is the loader's or LoadModule's.
func Load(t testing.TB, rule string) (module.Rule, error) {
	t.Helper()
	cfg, err := mux.Parse([]byte(Head + rule))
	if err != nil {
		return nil, err
	}
	m := cfg.Clients[0].Rules[0]
	ctx, cancel := module.NewContext(context.Background(), zaptest.NewLogger(t))
	t.Cleanup(func() {
		cancel()
		if err := ctx.Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	if err := ctx.LoadModule(m.MuxModule().ID, m); err != nil {
		return nil, err
	}
	return m.(module.Rule), nil
}

// MustLoad is Load for configs that must be valid.
func MustLoad(t testing.TB, rule string) module.Rule {
	t.Helper()
	r, err := Load(t, rule)
	if err != nil {
		t.Fatalf("load %q: %v", rule, err)
	}
	return r
}

// Typical is a submit_sm as a legacy client sends it, with a TLV the
// provider does not know, which must survive every rule.
func Typical() pdu.SM {
	var tlvs []byte
	tlvs = pdu.AppendTLV(tlvs, pdu.TagUserMessageReference, []byte{0, 7})
	tlvs = pdu.AppendTLV(tlvs, 0x1400, []byte("vendor"))
	return pdu.SM{
		SourceTON: 5, SourceAddr: []byte("Shop"),
		DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
		RegisteredDelivery: 1, ShortMessage: []byte("Hello world"),
		TLVs: tlvs,
	}
}

// Received encodes sm into a frame and decodes it back, so that its []byte
// fields are views into a frame, as in the mux.
func Received(t testing.TB, sm pdu.SM) (*module.Message, []byte) {
	t.Helper()
	frame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &sm)
	var m module.Message
	m.Client = "shop"
	if err := m.SM.Decode(frame[pdu.HeaderLen:]); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &m, bytes.Clone(frame)
}

// RoundTrip re-encodes a message after the rules, as the mux does when one
// changed it, and checks it decodes to want, byte for byte.
func RoundTrip(t testing.TB, m *module.Message, want pdu.SM) {
	t.Helper()
	got := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &m.SM)
	wantFrame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &want)
	if !bytes.Equal(got, wantFrame) {
		t.Fatalf("re-encoded frame\n got %x\nwant %x", got, wantFrame)
	}
	_, body, err := pdu.DecodeFrame(got)
	if err != nil {
		t.Fatalf("decode re-encoded frame: %v", err)
	}
	if v, ok := body.(*pdu.SM).TLVs.Lookup(0x1400); !ok || string(v) != "vendor" {
		t.Fatalf("unknown TLV 0x1400 lost: %q %v", v, ok)
	}
}

// Status returns the command_status a rule's error gives the client: a
// *pdu.StatusError's, else ESME_RSYSERR, as the mux answers.
func Status(err error) pdu.Status {
	var se *pdu.StatusError
	switch {
	case err == nil:
		return pdu.StatusOK
	case errors.As(err, &se):
		return se.Status
	}
	return pdu.StatusSysErr
}
