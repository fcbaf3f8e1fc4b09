package mux

import (
	"slices"
	"testing"
)

func TestIDCandidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"hex id", "0A1B", []string{"a1b", "2587"}},
		{"decimal id, also read as hex", "2587", []string{"2587", "a1b", "9607"}},
		{"leading zeros", "000123", []string{"123", "7b", "291"}},
		{"uuid", "6F9619FF-8B86-D011-B42D-00C04FC964FF", []string{"6f9619ff-8b86-d011-b42d-00c04fc964ff"}},
		{"zero", "000", []string{"0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := idCandidates(tc.in, nil); !slices.Equal(got, tc.want) {
				t.Fatalf("idCandidates(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	// The key a submit_sm_resp id is stored under is among the candidates
	// of the same id reported in the other base.
	if !slices.Contains(idCandidates("6699", nil), IDKey("1A2B")) {
		t.Fatal("decimal 6699 does not find hex 1A2B")
	}
}

func TestNormalizeNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"+45 12 34 56 78": "4512345678", "004512345678": "4512345678", "4512345678": "4512345678"} {
		if got := NormalizeNumber(in); got != want {
			t.Errorf("NormalizeNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
