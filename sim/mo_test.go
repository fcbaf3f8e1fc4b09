package sim_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestInjectMO(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))
	short := []byte("STOP")
	long := bytes.Repeat([]byte("long text "), 40) // 400 octets: over short_message

	// The first waits in the queue: nothing is bound yet.
	if err := srv.InjectMO("acct", "4512345678", "1204", 0, short); err != nil {
		t.Fatal(err)
	}
	tx := dialBound(t, srv.Addr(), pdu.CmdBindTransmitter, true) // gets no MOs
	rx := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	if err := srv.InjectMO("acct", "4512345678", "1204", 0, long); err != nil {
		t.Fatal(err)
	}
	got := collect(t, 2, rx, tx)
	if len(got[1]) != 0 {
		t.Fatalf("a transmitter got %d MOs", len(got[1]))
	}
	first, second := got[0][0].SM(t), got[0][1].SM(t)
	if first.ESMClass != 0 || string(first.ShortMessage) != "STOP" || string(first.SourceAddr) != "4512345678" ||
		string(first.DestAddr) != "1204" || first.DataCoding != 0 {
		t.Errorf("short MO %+v", first)
	}
	if _, ok := first.TLVs.Lookup(pdu.TagMessagePayload); ok {
		t.Errorf("short MO has message_payload")
	}
	payload, ok := second.TLVs.Lookup(pdu.TagMessagePayload)
	if !ok || !bytes.Equal(payload, long) || len(second.ShortMessage) != 0 {
		t.Errorf("long MO: payload %v (%d octets), short_message %d octets", ok, len(payload), len(second.ShortMessage))
	}
	eventually.That(t, wait, "2 MOs acked", func() bool { st := srv.Stats(); return st.MOsAcked == 2 && st.MOsSent == 2 })
}

func TestInjectMOErrors(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))
	tests := []struct {
		name     string
		systemID string
		dc       byte
		text     []byte
		want     error
	}{
		{"unknown account", "nobody", 0, []byte("x"), sim.ErrUnknownAccount},
		{"data_coding 1 not used for MO", "acct", 1, []byte("x"), sim.ErrMODataCoding},
		{"gsm7 octet above 0x7f", "acct", 0, []byte{0x80}, pdu.ErrInvalidText},
		{"ucs2 odd", "acct", 8, []byte{0x00}, pdu.ErrInvalidText},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := srv.InjectMO(tc.systemID, "1", "2", tc.dc, tc.text); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
