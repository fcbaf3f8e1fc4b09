package pdu

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// receiptGolden are receipts written by hand after the spec and real SMSCs.
var receiptGolden = []struct {
	name string
	in   string
	want Receipt
}{
	{
		name: "classic",
		in:   "id:0123456789 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 stat:DELIVRD err:000 text:Hello",
		want: Receipt{ID: "0123456789", Sub: "001", Dlvrd: "001", SubmitDate: "0610191018", DoneDate: "0610191018", Stat: "DELIVRD", Err: "000", Text: "Hello"},
	},
	{
		name: "uppercase Text and keys",
		in:   "ID:42 SUB:001 DLVRD:001 Submit Date:2401021504 Done Date:2401021505 Stat:UNDELIV Err:126 Text:Your code is 1234",
		want: Receipt{ID: "42", Sub: "001", Dlvrd: "001", SubmitDate: "2401021504", DoneDate: "2401021505", Stat: "UNDELIV", Err: "126", Text: "Your code is 1234"},
	},
	{
		name: "text with spaces and colons",
		in:   "id:1 stat:DELIVRD err:000 text:at 10:30: meet id:2 stat:REJECTD",
		want: Receipt{ID: "1", Stat: "DELIVRD", Err: "000", Text: "at 10:30: meet id:2 stat:REJECTD"},
	},
	{
		name: "missing text",
		in:   "id:77 sub:001 dlvrd:000 submit date:2312312359 done date:2401010000 stat:EXPIRED err:000",
		want: Receipt{ID: "77", Sub: "001", Dlvrd: "000", SubmitDate: "2312312359", DoneDate: "2401010000", Stat: "EXPIRED", Err: "000"},
	},
	{
		name: "empty text",
		in:   "id:77 stat:ENROUTE err:000 text:",
		want: Receipt{ID: "77", Stat: "ENROUTE", Err: "000"},
	},
	{
		name: "extra spaces",
		in:   "  id:ABC   sub:001  dlvrd:001  submit  date:2401021504   done date: 2401021505 stat:  DELIVRD err:000\r\n",
		want: Receipt{ID: "ABC", Sub: "001", Dlvrd: "001", SubmitDate: "2401021504", DoneDate: "2401021505", Stat: "DELIVRD", Err: "000"},
	},
	{
		name: "empty values before keys",
		in:   "id:9 sub: dlvrd: submit date: done date: stat:BUFFERD err: text:x",
		want: Receipt{ID: "9", Stat: "BUFFERD", Text: "x"},
	},
	{
		name: "hex id",
		in:   "id:1a2B3c4D5e sub:001 dlvrd:001 submit date:2401021504 done date:2401021504 stat:ACCEPTD err:000 text:",
		want: Receipt{ID: "1a2B3c4D5e", Sub: "001", Dlvrd: "001", SubmitDate: "2401021504", DoneDate: "2401021504", Stat: "ACCEPTD", Err: "000"},
	},
	{
		name: "uuid id",
		in:   "id:0f8fad5b-d9cb-469f-a165-70867728950e sub:001 dlvrd:001 submit date:240102150405 done date:240102150406 stat:DELIVRD err:000 text:hi",
		want: Receipt{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Sub: "001", Dlvrd: "001", SubmitDate: "240102150405", DoneDate: "240102150406", Stat: "DELIVRD", Err: "000", Text: "hi"},
	},
	{
		name: "any order and unknown fields",
		in:   "stat:DELIVRD err:000 imsi:240011234567890 id:5 mccmnc:24001 done_date:2401021505 submitdate:2401021504 text:ok",
		want: Receipt{ID: "5", SubmitDate: "2401021504", DoneDate: "2401021505", Stat: "DELIVRD", Err: "000", Text: "ok"},
	},
	{
		name: "stray words and first key wins",
		in:   "receipt for id:5 id:6 foo stat:UNKNOWN stat:DELIVRD",
		want: Receipt{ID: "5", Stat: "UNKNOWN"},
	},
	{
		name: "id with colon",
		in:   "id:abc:def stat:DELIVRD",
		want: Receipt{ID: "abc:def", Stat: "DELIVRD"},
	},
	{
		name: "latin-1 text bytes kept",
		in:   "id:1 stat:DELIVRD text:caf\xe9",
		want: Receipt{ID: "1", Stat: "DELIVRD", Text: "caf\xe9"},
	},
}

func TestParseReceipt(t *testing.T) {
	t.Parallel()
	for _, tc := range receiptGolden {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReceipt([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseReceipt(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseReceipt(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
			id, ok := ReceiptID([]byte(tc.in))
			if !ok || string(id) != tc.want.ID {
				t.Fatalf("ReceiptID(%q) = %q, %v; want %q", tc.in, id, ok, tc.want.ID)
			}
			stat, ok := ReceiptStat([]byte(tc.in))
			if ok != (tc.want.Stat != "") || string(stat) != tc.want.Stat {
				t.Fatalf("ReceiptStat(%q) = %q, %v; want %q", tc.in, stat, ok, tc.want.Stat)
			}
		})
	}
}

func TestParseReceiptNoID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"spaces", "   "},
		{"no id", "sub:001 dlvrd:001 stat:DELIVRD err:000 text:id:1"},
		{"empty id", "id: sub:001 stat:DELIVRD"},
		{"id at end", "stat:DELIVRD id:"},
		{"id without colon", "id 123 stat:DELIVRD"},
		{"idx key", "idx:1"},
		{"first id empty", "id: id:5"},
		{"colons only", ":::"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseReceipt([]byte(tc.in)); !errors.Is(err, ErrReceiptNoID) {
				t.Fatalf("ParseReceipt(%q) error = %v, want ErrReceiptNoID", tc.in, err)
			}
			if id, ok := ReceiptID([]byte(tc.in)); ok {
				t.Fatalf("ReceiptID(%q) = %q, true; want false", tc.in, id)
			}
		})
	}
}

func TestReceiptAppendTo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		r    Receipt
		want string
	}{
		{
			name: "classic",
			r:    Receipt{ID: "0123456789", Sub: "001", Dlvrd: "001", SubmitDate: "0610191018", DoneDate: "0610191018", Stat: StatDelivered, Err: "000", Text: "Hello"},
			want: "id:0123456789 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 stat:DELIVRD err:000 text:Hello",
		},
		{
			name: "defaults",
			r:    Receipt{ID: "x", Stat: StatEnroute},
			want: "id:x sub:001 dlvrd:001 submit date: done date: stat:ENROUTE err:000 text:",
		},
		{
			name: "text cut to 20 characters",
			r:    Receipt{ID: "1", Stat: StatDelivered, Err: "126", Text: "ÅÄÖ 4567890123456789 and more"},
			want: "id:1 sub:001 dlvrd:001 submit date: done date: stat:DELIVRD err:126 text:ÅÄÖ 4567890123456789",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("pre|")
			got := tc.r.AppendTo(prefix)
			if string(got) != "pre|"+tc.want {
				t.Fatalf("AppendTo =\n%q\nwant\n%q", got, "pre|"+tc.want)
			}
			if s := tc.r.String(); s != tc.want {
				t.Fatalf("String = %q", s)
			}
			back, err := ParseReceipt([]byte(tc.want))
			if err != nil || back.ID != tc.r.ID || back.Stat != tc.r.Stat {
				t.Fatalf("ParseReceipt(AppendTo) = %+v, %v", back, err)
			}
		})
	}
}

func TestReceiptErr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code uint16
		s    string
	}{
		{0, "000"}, {0x107E, "126"}, {0x1001, "001"}, {0x100A, "010"},
		{0x1063, "099"}, {0x1064, "100"}, {0x13E7, "999"}, {0x13E8, "1000"}, {0x1FFF, "4095"},
	} {
		t.Run(tc.s, func(t *testing.T) {
			t.Parallel()
			if got := ReceiptErr(tc.code); got != tc.s {
				t.Errorf("ReceiptErr(0x%04X) = %q, want %q", tc.code, got, tc.s)
			}
			code, err := ReceiptErrCode(tc.s)
			if err != nil || code != tc.code {
				t.Errorf("ReceiptErrCode(%q) = 0x%04X, %v; want 0x%04X", tc.s, code, err, tc.code)
			}
		})
	}
	t.Run("zero spellings", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{"0", "00", "000", "0000"} {
			if code, err := ReceiptErrCode(s); err != nil || code != 0 {
				t.Errorf("ReceiptErrCode(%q) = 0x%04X, %v; want 0", s, code, err)
			}
		}
	})
	t.Run("round trip 0x1001-0x1FFF", func(t *testing.T) {
		t.Parallel()
		// 0x1000 keeps 000, which reads back as "no error": the one code
		// the three-digit field cannot carry.
		if got := ReceiptErr(0x1000); got != "000" {
			t.Fatalf("ReceiptErr(0x1000) = %q, want 000", got)
		}
		for code := uint16(0x1001); code <= 0x1FFF; code++ {
			s := ReceiptErr(code)
			back, err := ReceiptErrCode(s)
			if err != nil || back != code {
				t.Fatalf("0x%04X -> %q -> 0x%04X, %v", code, s, back, err)
			}
		}
	})
	t.Run("bad", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{"", "12a", "-1", "+12", "4096", "12345", "0x7E", " 12"} {
			if _, err := ReceiptErrCode(s); !errors.Is(err, ErrReceiptField) {
				t.Errorf("ReceiptErrCode(%q) error = %v, want ErrReceiptField", s, err)
			}
		}
	})
}

func TestReceiptTime(t *testing.T) {
	t.Parallel()
	oslo := time.FixedZone("CET", 3600)
	ts := time.Date(2006, 10, 19, 11, 18, 59, 0, oslo)
	if got := ReceiptTime(ts); got != "0610191018" {
		t.Fatalf("ReceiptTime = %q, want 0610191018 (UTC)", got)
	}
	for _, tc := range []struct {
		name string
		in   string
		want time.Time
	}{
		{"minutes", "0610191018", time.Date(2006, 10, 19, 10, 18, 0, 0, time.UTC)},
		{"seconds", "061019101859", time.Date(2006, 10, 19, 10, 18, 59, 0, time.UTC)},
		{"last century", "9912312359", time.Date(1999, 12, 31, 23, 59, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReceiptTime(tc.in)
			if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Fatalf("ParseReceiptTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	for _, in := range []string{"", "061019101", "06101910185", "0613191018", "0610191060", "06101910 8", "061019101860", "+610191018"} {
		t.Run("bad "+in, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseReceiptTime(in); !errors.Is(err, ErrReceiptField) {
				t.Fatalf("ParseReceiptTime(%q) error = %v, want ErrReceiptField", in, err)
			}
		})
	}
	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		now := time.Now().Truncate(time.Minute)
		back, err := ParseReceiptTime(ReceiptTime(now))
		if err != nil || !back.Equal(now) {
			t.Fatalf("round trip of %v = %v, %v", now, back, err)
		}
	})
}

func TestValidStat(t *testing.T) {
	t.Parallel()
	for _, s := range []string{StatEnroute, StatDelivered, StatExpired, StatDeleted, StatUndeliverable,
		StatAccepted, StatUnknown, StatRejected, StatBuffered} {
		if !ValidStat(s) {
			t.Errorf("ValidStat(%q) = false", s)
		}
	}
	for _, s := range []string{"", "delivrd", "DELIVERED", "DELIVRD "} {
		if ValidStat(s) {
			t.Errorf("ValidStat(%q) = true", s)
		}
	}
}

var receiptBench = []byte("id:0f8fad5b-d9cb-469f-a165-70867728950e sub:001 dlvrd:001 submit date:2401021504 done date:2401021505 stat:DELIVRD err:000 text:Your code is 123456")

func BenchmarkReceiptID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ReceiptID(receiptBench); !ok {
			b.Fatal("no id")
		}
	}
}

func BenchmarkParseReceipt(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReceipt(receiptBench); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReceiptAppendTo(b *testing.B) {
	r, _ := ParseReceipt(receiptBench)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendTo(buf[:0])
	}
	if !strings.HasPrefix(string(buf), "id:") {
		b.Fatal(string(buf))
	}
}

func TestStatState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stat  string
		state byte
		ok    bool
	}{
		{StatEnroute, StateEnroute, true},
		{StatDelivered, StateDelivered, true},
		{"delivrd", StateDelivered, true},
		{StatExpired, StateExpired, true},
		{StatDeleted, StateDeleted, true},
		{StatUndeliverable, StateUndeliverable, true},
		{StatAccepted, StateAccepted, true},
		{StatUnknown, StateUnknown, true},
		{StatRejected, StateRejected, true},
		{StatBuffered, 0, false},
		{"DELIVERED", 0, false},
		{"", 0, false},
	} {
		t.Run(tc.stat, func(t *testing.T) {
			t.Parallel()
			if st, ok := StatState([]byte(tc.stat)); st != tc.state || ok != tc.ok {
				t.Fatalf("StatState(%q) = %d, %v; want %d, %v", tc.stat, st, ok, tc.state, tc.ok)
			}
		})
	}
}
