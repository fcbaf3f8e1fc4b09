package simtest_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// roundTrip writes one request on nc and reads its response.
func roundTrip(t *testing.T, nc net.Conn, br *bufio.Reader, id pdu.CommandID, seq uint32, body pdu.Body) pdu.Header {
	t.Helper()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(pdu.Append(nil, id, pdu.StatusOK, seq, body)); err != nil {
		t.Fatal(err)
	}
	f, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := pdu.DecodeHeader(f)
	return h
}

func TestNewServer(t *testing.T) {
	srv := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "pw"), simtest.ThrottleEvery(2))
	addrs := srv.Addrs()
	if len(addrs) != 2 || addrs[0] == addrs[1] || srv.Addr() != addrs[0] {
		t.Fatalf("addrs %v", addrs)
	}
	for i, addr := range addrs {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		bind := &pdu.Bind{SystemID: []byte("acct"), Password: []byte("pw"), InterfaceVersion: 0x34}
		if h := roundTrip(t, nc, br, pdu.CmdBindTransmitter, 1, bind); h.Status != pdu.StatusOK {
			t.Fatalf("host %d: bind %v", i, h.Status)
		}
		sm := &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")}
		want := []pdu.Status{pdu.StatusOK, pdu.StatusThrottled}[i] // submits 1 and 2 of the account
		if h := roundTrip(t, nc, br, pdu.CmdSubmitSM, 2, sm); h.Status != want {
			t.Fatalf("host %d: submit %v, want %v", i, h.Status, want)
		}
	}
	if st := srv.Stats(); st.Binds != 2 || st.Submits != 2 {
		t.Fatalf("stats %+v", st)
	}
	if subs := srv.Submits(); len(subs) != 2 || subs[0].Host != addrs[0] || subs[1].Host != addrs[1] {
		t.Fatalf("submits %+v", subs)
	}
}
