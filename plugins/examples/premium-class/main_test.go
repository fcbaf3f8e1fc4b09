package main

import (
	"context"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
	"github.com/smpp-mux/smpp-mux/plugins/sdk/sdktest"
)

func TestPremiumClass(t *testing.T) {
	t.Parallel()
	r := premiumClass{prefix: "45", class: []byte("premium")}
	tests := []struct {
		name string
		msg  sdk.Message
		want sdk.Verdict
	}{
		{"prefix", sdk.Message{DestAddr: "4512345678", ShortMessage: []byte("hi")},
			sdk.Change(sdk.SetTLV(sdk.TagMessageClass, []byte("premium")))},
		{"other destination", sdk.Message{DestAddr: "4612345678", ShortMessage: []byte("hi")}, sdk.Pass()},
		{"payload only", sdk.Message{DestAddr: "4612345678", TLVs: []sdk.TLV{{Tag: sdk.TagMessagePayload, Value: []byte("hi")}}}, sdk.Pass()},
		{"empty", sdk.Message{DestAddr: "4512345678"}, sdk.Reject(sdk.StatusInvMsgLen, "empty message")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.Submit(context.Background(), &tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != tc.want.Action || got.Status != tc.want.Status || len(got.Edits) != len(tc.want.Edits) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i, e := range got.Edits {
				w := tc.want.Edits[i]
				if e.Kind != w.Kind || e.Tag != w.Tag || string(e.Value) != string(w.Value) {
					t.Errorf("edit %d: got %+v, want %+v", i, e, w)
				}
			}
		})
	}
}

// TestPremiumClassAsTheMuxRunsIt runs the rule through sdktest: over the
// plugin protocol, with its edits applied by the mux's code, as the
// provider would get the message.
func TestPremiumClassAsTheMuxRunsIt(t *testing.T) {
	t.Parallel()
	p := sdktest.New(t, premiumClass{prefix: "45", class: []byte("premium")})

	got := p.Submit(sdk.Message{
		Client: "shop", DestAddr: "4512345678", ShortMessage: []byte("hi"),
		TLVs: []sdk.TLV{{Tag: sdk.TagMessageClass, Value: []byte("client's")}, {Tag: sdk.TagUserMessageReference, Value: []byte{0, 7}}},
	})
	if got.Status != sdk.StatusOK || !got.Changed {
		t.Fatalf("prefix: status 0x%02X, changed %v, err %v", got.Status, got.Changed, got.Err)
	}
	if v, _ := got.Message.TLV(sdk.TagMessageClass); string(v) != "premium" {
		t.Errorf("message_class %q, want premium (replacing the client's)", v)
	}
	if v, _ := got.Message.TLV(sdk.TagUserMessageReference); string(v) != "\x00\x07" {
		t.Errorf("user_message_reference %q, want it kept", v)
	}

	if got := p.Submit(sdk.Message{DestAddr: "4612345678", ShortMessage: []byte("hi")}); got.Status != sdk.StatusOK || got.Changed {
		t.Errorf("other destination: %+v", got)
	}
	if got := p.Submit(sdk.Message{DestAddr: "4512345678"}); got.Status != sdk.StatusInvMsgLen {
		t.Errorf("empty: status 0x%02X, want ESME_RINVMSGLEN", got.Status)
	}
}
