package sim_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestBind(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))
	tests := []struct {
		name     string
		id       pdu.CommandID
		systemID string
		password string
		want     pdu.Status
	}{
		{"transmitter", pdu.CmdBindTransmitter, "acct", "pw", pdu.StatusOK},
		{"receiver", pdu.CmdBindReceiver, "acct", "pw", pdu.StatusOK},
		{"transceiver", pdu.CmdBindTransceiver, "acct", "pw", pdu.StatusOK},
		{"wrong password", pdu.CmdBindTransceiver, "acct", "nope", pdu.StatusInvPassword},
		{"unknown system_id", pdu.CmdBindTransmitter, "who", "pw", pdu.StatusInvSystemID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, srv.Addr(), true)
			f := c.Bind(tc.id, tc.systemID, tc.password, tc.want)
			if tc.want != pdu.StatusOK {
				c.WaitClosed() // a refused bind ends the connection
				return
			}
			var r pdu.BindResp
			if err := r.Decode(f.Raw[pdu.HeaderLen:]); err != nil {
				t.Fatalf("bind_resp: %v", err)
			}
			if string(r.SystemID) != sim.SystemID {
				t.Errorf("system_id %q, want %q", r.SystemID, sim.SystemID)
			}
			if v, ok := r.TLVs.Byte(pdu.TagSCInterfaceVersion); !ok || v != 0x34 {
				t.Errorf("sc_interface_version %#x %v, want 0x34", v, ok)
			}
		})
	}
}

func TestAnyCredentialsWithoutAccounts(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	c := dial(t, srv.Addr(), true)
	c.Bind(pdu.CmdBindTransceiver, "anyone", "anything", pdu.StatusOK)
}

func TestSessionStates(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))

	t.Run("submit before bind", func(t *testing.T) {
		t.Parallel()
		c := dial(t, srv.Addr(), true)
		if f := c.Submit(textSM("hi", 0)); f.ID != pdu.CmdSubmitSMResp || f.Status != pdu.StatusInvBindStatus {
			t.Fatalf("got %v %v, want submit_sm_resp ESME_RINVBNDSTS", f.ID, f.Status)
		}
	})
	t.Run("submit on receiver", func(t *testing.T) {
		t.Parallel()
		c := dialBound(t, srv.Addr(), pdu.CmdBindReceiver, true)
		if f := c.Submit(textSM("hi", 0)); f.Status != pdu.StatusInvBindStatus {
			t.Fatalf("status %v, want ESME_RINVBNDSTS", f.Status)
		}
	})
	t.Run("second bind", func(t *testing.T) {
		t.Parallel()
		c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
		c.Bind(pdu.CmdBindTransmitter, "acct", "pw", pdu.StatusAlreadyBound)
		if f := c.Submit(textSM("still bound", 0)); f.Status != pdu.StatusOK {
			t.Fatalf("submit after refused rebind: %v", f.Status)
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		t.Parallel()
		c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
		seq := c.Send(pdu.CommandID(0x00000777), nil)
		f := c.Resp(seq)
		if f.ID != pdu.CmdGenericNack || f.Status != pdu.StatusInvCmdID {
			t.Fatalf("got %v %v, want generic_nack ESME_RINVCMDID", f.ID, f.Status)
		}
	})
	t.Run("enquire_link", func(t *testing.T) {
		t.Parallel()
		c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
		if f := c.Resp(c.Send(pdu.CmdEnquireLink, nil)); f.ID != pdu.CmdEnquireLinkResp {
			t.Fatalf("got %v, want enquire_link_resp", f.ID)
		}
	})
	t.Run("unbind", func(t *testing.T) {
		t.Parallel()
		c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
		if f := c.Resp(c.Send(pdu.CmdUnbind, nil)); f.ID != pdu.CmdUnbindResp || f.Status != pdu.StatusOK {
			t.Fatalf("got %v %v, want unbind_resp", f.ID, f.Status)
		}
		c.WaitClosed()
	})
}

func TestStatsCountBinds(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))
	a := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	dialBound(t, srv.Addr(), pdu.CmdBindReceiver, true)
	bad := dial(t, srv.Addr(), true)
	bad.Bind(pdu.CmdBindTransmitter, "acct", "bad", pdu.StatusInvPassword)
	st := srv.Stats()
	if st.Binds != 2 || st.BindFailures != 1 || st.SessionsBound != 2 {
		t.Fatalf("stats %+v: want 2 binds, 1 failure, 2 bound", st)
	}
	a.Close()
	eventually.That(t, wait, "one session bound after close", func() bool { return srv.Stats().SessionsBound == 1 })
}
