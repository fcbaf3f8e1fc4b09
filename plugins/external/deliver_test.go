package external

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
)

// deliverRule tags MOs, drops receipts whose text is "drop", and fails
// on "fail".
type deliverRule struct{ ruleFunc }

func (deliverRule) Deliver(_ context.Context, m *sdk.Message) (sdk.Verdict, error) {
	switch string(m.ShortMessage) {
	case "drop":
		return sdk.Reject(sdk.StatusRejectAppErr, "unwanted"), nil
	case "fail":
		return sdk.Verdict{}, errors.New("boom")
	}
	return sdk.Change(sdk.SetTLV(0x1401, []byte("tagged")), sdk.DeleteTLV(sdk.TagUserMessageReference)), nil
}

func passRule(context.Context, *sdk.Message) (sdk.Verdict, error) { return sdk.Pass(), nil }

func TestDeliver(t *testing.T) {
	t.Parallel()
	p := inProcess(t, deliverRule{passRule}, time.Second, "")
	if !p.WantsDeliver() {
		t.Fatal("a plugin with Deliver is not in the deliver chain")
	}
	m := testMessage("4512345678", "hello")
	if err := p.Deliver(m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.SM.TLVs.Lookup(0x1401); !ok || string(v) != "tagged" || !m.Changed() {
		t.Errorf("deliver_sm not changed: %+v", m.SM)
	}
	if _, ok := m.SM.TLVs.Lookup(pdu.TagUserMessageReference); ok {
		t.Error("TLV not deleted")
	}
	if err := p.Deliver(testMessage("4512345678", "drop")); statusOf(err) != pdu.StatusRejectAppErr {
		t.Errorf("drop: %v", err)
	}
	m = testMessage("4512345678", "fail")
	if err := p.Deliver(m); err != nil || m.Changed() {
		t.Errorf("a failed Deliver: %v, changed %v; want the deliver_sm unchanged", err, m.Changed())
	}
	if p.Errors() != 1 {
		t.Errorf("errors %d, want 1", p.Errors())
	}
}

func TestDeliverUnimplemented(t *testing.T) {
	t.Parallel()
	p := inProcess(t, ruleFunc(passRule), time.Second, "")
	if p.WantsDeliver() {
		t.Fatal("a plugin without Deliver is in the deliver chain")
	}
	if err := p.Deliver(testMessage("4512345678", "hello")); err != nil {
		t.Fatal(err)
	}
	var _ module.DeliverOptional = p
}

func TestNewEdits(t *testing.T) {
	t.Parallel()
	p := inProcess(t, ruleFunc(func(context.Context, *sdk.Message) (sdk.Verdict, error) {
		return sdk.Change(sdk.DeleteTLV(sdk.TagUserMessageReference), sdk.SetShortMessage([]byte{0, 'h', 0, 'i'}),
			sdk.SetDataCoding(8), sdk.SetESMClass(0x40), sdk.SetRegisteredDelivery(1)), nil
	}), time.Second, "")
	m := testMessage("4512345678", "hello")
	if err := p.Submit(m); err != nil {
		t.Fatal(err)
	}
	sm := m.SM
	if _, ok := sm.TLVs.Lookup(pdu.TagUserMessageReference); ok || string(sm.ShortMessage) != "\x00h\x00i" ||
		sm.DataCoding != 8 || sm.ESMClass != 0x40 || sm.RegisteredDelivery != 1 {
		t.Errorf("edited: %+v", sm)
	}
	if err := ApplyEdits(m, []sdk.Edit{sdk.SetShortMessage(make([]byte, 255))}); err == nil {
		t.Error("a 255-octet short_message was accepted")
	}
}
