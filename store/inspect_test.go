package store

import (
	"testing"
	"time"
)

func TestTrimHistory(t *testing.T) {
	var b []byte
	at := time.Unix(1700000000, 0)
	for i := range 5 {
		e := Event{Kind: EventReceipt, At: at.Add(time.Duration(i) * time.Second), Queue: "shop", Stat: "ENROUTE"}
		if i == 2 {
			e.Kind, e.Since = EventMoved, at
		}
		b = AppendEvent(b, e)
	}
	if got := TrimHistory(b, 5); len(got) != len(b) {
		t.Errorf("TrimHistory(5 events, 5) = %d bytes, want all %d", len(got), len(b))
	}
	got := TrimHistory(b, 2)
	var at2 []time.Time
	for rest := got; len(rest) > 0; {
		e, r, err := DecodeEvent(rest, "m")
		if err != nil {
			t.Fatalf("DecodeEvent of the trimmed history: %v", err)
		}
		at2 = append(at2, e.At)
		rest = r
	}
	if len(at2) != 2 || !at2[0].Equal(at.Add(3*time.Second)) || !at2[1].Equal(at.Add(4*time.Second)) {
		t.Errorf("TrimHistory(5 events, 2) kept events at %v, want the last two", at2)
	}
	if got := TrimHistory(b[:len(b)-1], 10); got != nil {
		t.Errorf("TrimHistory of a cut history = %d bytes, want none", len(got))
	}
}

func TestSortEventsByID(t *testing.T) {
	at := time.Unix(1700000000, 0)
	in := []Event{{ID: "b", At: at}, {ID: "a", At: at}, {ID: "b", At: at.Add(time.Second)}, {ID: "a", At: at.Add(time.Second)}}
	got := SortEventsByID(in)
	want := []Event{in[1], in[3], in[0], in[2]}
	for i := range want {
		if got[i].ID != want[i].ID || !got[i].At.Equal(want[i].At) {
			t.Fatalf("SortEventsByID = %+v, want %+v", got, want)
		}
	}
	if in[0].ID != "b" {
		t.Error("SortEventsByID changed its argument")
	}
}
