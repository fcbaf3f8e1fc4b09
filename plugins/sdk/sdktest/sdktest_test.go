package sdktest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/sdktest"
)

type rule struct{}

func (rule) Submit(_ context.Context, m *sdk.Message) (sdk.Verdict, error) {
	switch string(m.ShortMessage) {
	case "error":
		return sdk.Verdict{}, errors.New("boom")
	case "long":
		return sdk.Change(sdk.SetSourceAddr(strings.Repeat("x", 21))), nil
	case "no status":
		return sdk.Reject(0, "?"), nil
	}
	return sdk.Change(sdk.DeleteTLV(sdk.TagMessageClass), sdk.SetDataCoding(8), sdk.SetShortMessage([]byte{0, 'h'})), nil
}

func (rule) Deliver(_ context.Context, m *sdk.Message) (sdk.Verdict, error) {
	if m.ESMClass&0x04 != 0 {
		return sdk.Reject(sdk.StatusRejectAppErr, "no receipts"), nil
	}
	return sdk.Change(sdk.SetTLV(0x1401, []byte("mo"))), nil
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	p := sdktest.New(t, rule{})
	got := p.Submit(sdk.Message{ShortMessage: []byte("h"), TLVs: []sdk.TLV{{Tag: sdk.TagMessageClass, Value: []byte("a")}}})
	if got.Status != sdk.StatusOK || !got.Changed || got.Message.DataCoding != 8 || string(got.Message.ShortMessage) != "\x00h" || len(got.Message.TLVs) != 0 {
		t.Errorf("change: %+v", got)
	}
	for _, text := range []string{"error", "long", "no status"} {
		if got := p.Submit(sdk.Message{ShortMessage: []byte(text)}); got.Status != sdk.StatusSysErr || got.Err == nil || got.Changed {
			t.Errorf("%s: %+v, want ESME_RSYSERR with an error", text, got)
		}
	}
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	p := sdktest.New(t, rule{})
	if got := p.Deliver(sdk.Message{ESMClass: 0x04}); got.Status != sdk.StatusRejectAppErr {
		t.Errorf("receipt: %+v, want dropped", got)
	}
	if got := p.Deliver(sdk.Message{}); got.Status != sdk.StatusOK || got.Message.TLVs[0].Tag != 0x1401 {
		t.Errorf("mo: %+v", got)
	}
}
