package simtest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewServer(t *testing.T) {
	srv := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "pw"), simtest.ThrottleEvery(2))
	addrs := srv.Addrs()
	if len(addrs) != 2 || addrs[0] == addrs[1] || srv.Addr() != addrs[0] {
		t.Fatalf("addrs %v", addrs)
	}
	for i, addr := range addrs {
		c := esme.DialConn(t, addr, esme.ConnOptions{})
		c.Bind(pdu.CmdBindTransmitter, "acct", "pw", pdu.StatusOK)
		sm := &pdu.SM{DestTON: 1, DestAddr: []byte("4512345678"), ShortMessage: []byte("hi")}
		want := []pdu.Status{pdu.StatusOK, pdu.StatusThrottled}[i] // submits 1 and 2 of the account
		if f := c.Submit(sm); f.ID != pdu.CmdSubmitSMResp || f.Status != want {
			t.Fatalf("host %d: submit %v %v, want %v", i, f.ID, f.Status, want)
		}
	}
	if st := srv.Stats(); st.Binds != 2 || st.Submits != 2 {
		t.Fatalf("stats %+v", st)
	}
	if subs := srv.Submits(); len(subs) != 2 || subs[0].Host != addrs[0] || subs[1].Host != addrs[1] {
		t.Fatalf("submits %+v", subs)
	}
}
