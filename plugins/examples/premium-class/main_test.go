package main

import (
	"context"
	"testing"

	"github.com/smpp-mux/smpp-mux/plugins/sdk"
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
