package sim_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

func TestSubmitUniqueIDsAndRecord(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Account("acct", "pw"))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransmitter, true)
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	const n = 200
	seen := make(map[string]bool, n)
	for range n {
		f := c.Submit(textSM("hello", 0))
		if f.Status != pdu.StatusOK {
			t.Fatalf("status %v", f.Status)
		}
		id := f.MessageID(t)
		if !hex16.MatchString(id) || seen[id] {
			t.Fatalf("message_id %q: not 16 hex digits or repeated", id)
		}
		seen[id] = true
	}

	tlvs := pdu.AppendTLV(nil, pdu.TagMessageClass, []byte("secret"))
	tlvs = pdu.AppendTLV(tlvs, pdu.TagUserMessageReference, []byte{0x01, 0x02})
	m := textSM("classy", 1)
	m.PriorityFlag, m.DataCoding, m.TLVs = 2, 3, tlvs
	f := c.Submit(m)
	subs := srv.Submits()
	if len(subs) != n+1 {
		t.Fatalf("%d submits recorded, want %d", len(subs), n+1)
	}
	got := subs[n]
	if got.MessageID != f.MessageID(t) || got.Dest != "4512345678" || got.Source != "Shop" ||
		got.PriorityFlag != 2 || got.DataCoding != 3 || got.RegisteredDelivery != 1 ||
		string(got.Text) != "classy" || got.SystemID != "acct" || got.Host != srv.Addr() || got.Status != pdu.StatusOK {
		t.Fatalf("recorded %+v", got)
	}
	if mc, ok := got.MessageClass(); !ok || mc != "secret" {
		t.Errorf("message_class %q %v", mc, ok)
	}
	if umr, ok := got.UserMessageReference(); !ok || umr != 0x0102 {
		t.Errorf("user_message_reference %#x %v", umr, ok)
	}
	if st := srv.Stats(); st.Submits != n+1 || st.Accepted != n+1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t)
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	payload := func(dc byte, text []byte) *pdu.SM {
		m := textSM("", 0)
		m.DataCoding, m.TLVs = dc, pdu.AppendTLV(nil, pdu.TagMessagePayload, text)
		return m
	}
	withDC := func(dc byte, text []byte) *pdu.SM {
		m := textSM("", 0)
		m.DataCoding, m.ShortMessage = dc, text
		return m
	}
	tests := []struct {
		name string
		m    *pdu.SM
		want pdu.Status
	}{
		{"gsm7", withDC(0, []byte("hello")), pdu.StatusOK},
		{"dest ton 0 read as 1", func() *pdu.SM { m := textSM("x", 0); m.DestTON = 0; return m }(), pdu.StatusOK},
		{"dest ton 2", func() *pdu.SM { m := textSM("x", 0); m.DestTON = 2; return m }(), pdu.StatusInvDstTON},
		{"dest ton 5", func() *pdu.SM { m := textSM("x", 0); m.DestTON = 5; return m }(), pdu.StatusInvDstTON},
		{"scheduled", func() *pdu.SM {
			m := textSM("x", 0)
			m.ScheduleDeliveryTime = []byte("260101120000000+")
			return m
		}(), pdu.StatusInvSched},
		{"data_coding 5 unsupported", withDC(5, []byte("x")), pdu.StatusSubmitFail},
		{"data_coding 7 unsupported", withDC(7, []byte("x")), pdu.StatusSubmitFail},
		{"gsm7 octet above 0x7f", withDC(0, []byte{'a', 0x80}), pdu.StatusSubmitFail},
		{"ascii octet above 0x7f", withDC(1, []byte{0xE9}), pdu.StatusSubmitFail},
		{"latin-1 anything", withDC(3, []byte{0xE9, 0xFF}), pdu.StatusOK},
		{"binary anything", withDC(4, []byte{0x00, 0xFF}), pdu.StatusOK},
		{"ucs2 odd length", withDC(8, []byte{0x00, 0x41, 0x00}), pdu.StatusSubmitFail},
		{"ucs2 lone surrogate", withDC(8, []byte{0xDC, 0x00}), pdu.StatusSubmitFail},
		{"ucs2", withDC(8, []byte{0x00, 0x41, 0x04, 0x3F}), pdu.StatusOK},
		{"ucs2 flash 24", withDC(0x18, []byte{0x00, 0x41}), pdu.StatusOK},
		{"gsm7 flash 240", withDC(0xF0, []byte("flash")), pdu.StatusOK},
		{"cyrillic", withDC(6, []byte{0xB0, 0xD0}), pdu.StatusOK},
		{"payload ok", payload(0, make([]byte, 400)), pdu.StatusOK},
		{"payload bad ucs2", payload(8, make([]byte, 301)), pdu.StatusSubmitFail},
	}
	for _, tc := range tests {
		f := c.Submit(tc.m)
		if f.Status != tc.want {
			t.Errorf("%s: status %v, want %v", tc.name, f.Status, tc.want)
		}
		if f.Status != pdu.StatusOK && f.Length != pdu.HeaderLen {
			t.Errorf("%s: error response has a body", tc.name)
		}
	}
}

func TestThrottling(t *testing.T) {
	t.Parallel()
	t.Run("every nth", func(t *testing.T) {
		t.Parallel()
		srv := simtest.NewServer(t, simtest.ThrottleEvery(3), simtest.ErrorEvery(4, pdu.StatusMsgQueueFull))
		c := dialBound(t, srv.Addr(), pdu.CmdBindTransmitter, true)
		want := []pdu.Status{pdu.StatusOK, pdu.StatusOK, pdu.StatusThrottled, pdu.StatusMsgQueueFull,
			pdu.StatusOK, pdu.StatusThrottled, pdu.StatusOK, pdu.StatusMsgQueueFull}
		for i, w := range want {
			if f := c.Submit(textSM("x", 0)); f.Status != w {
				t.Errorf("submit %d: %v, want %v", i+1, f.Status, w)
			}
		}
		if st := srv.Stats(); st.Throttled != 2 || st.Rejected != 2 || st.Accepted != 4 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("set throttle", func(t *testing.T) {
		t.Parallel()
		srv := simtest.NewServer(t)
		c := dialBound(t, srv.Addr(), pdu.CmdBindTransmitter, true)
		srv.SetThrottle(true)
		for range 3 {
			if f := c.Submit(textSM("x", 0)); f.Status != pdu.StatusThrottled {
				t.Fatalf("throttled: %v", f.Status)
			}
		}
		srv.SetThrottle(false)
		if f := c.Submit(textSM("x", 0)); f.Status != pdu.StatusOK {
			t.Fatalf("after throttle: %v", f.Status)
		}
	})
	t.Run("rate over all hosts", func(t *testing.T) {
		t.Parallel()
		srv := simtest.NewServer(t, simtest.Hosts(2), simtest.Rate(5))
		a := dialBound(t, srv.Addrs()[0], pdu.CmdBindTransmitter, true)
		b := dialBound(t, srv.Addrs()[1], pdu.CmdBindTransmitter, true)
		start := time.Now()
		ok := 0
		for i := range 20 {
			c := a
			if i%2 == 1 {
				c = b
			}
			if c.Submit(textSM("x", 0)).Status == pdu.StatusOK {
				ok++
			}
		}
		// A bucket of 5 plus 5/s refill over the elapsed time.
		limit := 5 + int(5*time.Since(start).Seconds()) + 1
		if ok < 5 || ok > limit {
			t.Fatalf("%d of 20 accepted, want 5..%d", ok, limit)
		}
		if st := srv.Stats(); st.Throttled != uint64(20-ok) {
			t.Errorf("throttled %d, want %d", st.Throttled, 20-ok)
		}
	})
}

func TestRespLatency(t *testing.T) {
	t.Parallel()
	const latency = 50 * time.Millisecond
	srv := simtest.NewServer(t, simtest.RespLatency(latency))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransceiver, true)
	start := time.Now()
	seqs := make([]uint32, 10)
	for i := range seqs {
		seqs[i] = c.Send(pdu.CmdSubmitSM, textSM("later", 1))
	}
	for _, seq := range seqs {
		if f := c.Resp(seq); f.Status != pdu.StatusOK {
			t.Fatalf("status %v", f.Status)
		}
	}
	if d := time.Since(start); d < latency {
		t.Fatalf("responses after %v, want at least %v", d, latency)
	}
	for range seqs {
		c.Deliver() // every receipt still comes
	}
}

func TestCustomMessageID(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Config(func(cfg *sim.Config) {
		cfg.MessageID = func(n uint64) string { return "m" + string(rune('0'+n)) }
	}))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransmitter, true)
	if id := c.Submit(textSM("x", 0)).MessageID(t); id != "m1" {
		t.Fatalf("message_id %q, want m1", id)
	}
}

// MessageIDNoNUL leaves the NUL off submit_sm_resp's message_id.
func TestMessageIDNoNUL(t *testing.T) {
	t.Parallel()
	srv := simtest.NewServer(t, simtest.Config(func(cfg *sim.Config) {
		cfg.MessageID = func(uint64) string { return "abc" }
		cfg.MessageIDNoNUL = true
	}))
	c := dialBound(t, srv.Addr(), pdu.CmdBindTransmitter, true)
	if f := c.Submit(textSM("x", 0)); string(f.Raw[pdu.HeaderLen:]) != "abc" || f.Length != pdu.HeaderLen+3 {
		t.Fatalf("submit_sm_resp %x, want the body abc without NUL", f.Raw)
	}
}
