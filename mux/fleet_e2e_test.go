package mux_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	_ "github.com/smpp-mux/smpp-mux/plugins/ratelimit"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	_ "github.com/smpp-mux/smpp-mux/store/redis"
)

// fleetConfig is the config of one instance of a fleet on sim's two hosts
// and the Redis at addr: prefix keeps each test's keys apart, journal is
// the instance's own, upstream adds [upstream] keys, client is the one
// [[client]] "shop" with its keys and rules after its password.
func fleetConfig(s *simtest.Server, addr, prefix, journal, upstream, client string) string {
	return fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
response_timeout = "2s"
submit_wait = "100ms"
[store]
module = "redis"
url = "redis://%s/0"
prefix = %q
timeout = "1s"
journal = %q
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 2
reconnect_delay = "1s"
%s
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
[[client]]
system_id = "shop"
password = "shop-pw"
%s
`, addr, prefix, journal, upstream, s.Addrs()[0], s.Addrs()[1], client)
}

// startFleet starts n instances of fleetConfig on one Redis and one
// simulator, logging to log (nil: the test's log, warnings and above).
func startFleet(t *testing.T, n int, log *zap.Logger, upstream, client string) ([]*mux.Mux, *simtest.Server, func(), func()) {
	t.Helper()
	if log == nil {
		log = zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))
	}
	addr, stop, restart := redistest.Start(t)
	s := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "secret"))
	dir := t.TempDir()
	ms := make([]*mux.Mux, n)
	for i := range ms {
		journal := filepath.Join(dir, fmt.Sprintf("%d.journal", i))
		ms[i] = startMuxLog(t, fleetConfig(s, addr, "fleet", journal, upstream, client), log)
	}
	return ms, s, stop, restart
}

// bindShop binds "shop" to m, returning the client or the bind's status.
func bindShop(t *testing.T, m *mux.Mux) (*esme.Client, pdu.Status) {
	t.Helper()
	c, err := esme.Dial(m.Addrs()[0].String(), "shop", "shop-pw", esme.Options{})
	var se *pdu.StatusError
	switch {
	case errors.As(err, &se):
		return nil, se.Status
	case err != nil:
		t.Fatalf("bind: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, pdu.StatusOK
}

// max_binds = 2 holds for both instances together: a bind on either one
// beyond the second is refused with ESME_RALYBND, as on one instance, and
// an unbind makes room on the other.
func TestFleetMaxBinds(t *testing.T) {
	ms, _, _, _ := startFleet(t, 2, nil, "", "max_binds = 2")
	a, b := ms[0], ms[1]
	first, st := bindShop(t, a)
	if st != pdu.StatusOK {
		t.Fatalf("first bind: %v", st)
	}
	if _, st := bindShop(t, b); st != pdu.StatusOK {
		t.Fatalf("second bind: %v", st)
	}
	for name, m := range map[string]*mux.Mux{"a": a, "b": b} {
		if _, st := bindShop(t, m); st != pdu.StatusAlreadyBound {
			t.Fatalf("third bind on %s: %v, want ESME_RALYBND", name, st)
		}
	}
	first.Close()
	eventually.That(t, 5*time.Second, "a bind after the first unbound", func() bool {
		c, st := bindShop(t, b)
		if c != nil {
			c.Close()
		}
		return st == pdu.StatusOK
	})
}

// The rate_limit rule holds for the fleet: 200 submits sent as fast as
// the client can, half to each instance, pass burst (5) and what the
// bucket refills meanwhile (0.1/s: at most 1 more within 10s); every
// other one is answered ESME_RTHROTTLED.
func TestFleetRateLimit(t *testing.T) {
	const rule = `
  [[client.rule]]
  module = "rate_limit"
  rate = 0.1
  burst = 5`
	ms, _, _, _ := startFleet(t, 2, nil, "", rule)
	var cs []*esme.Client
	for _, m := range ms {
		c, st := bindShop(t, m)
		if st != pdu.StatusOK {
			t.Fatalf("bind: %v", st)
		}
		cs = append(cs, c)
	}
	start := time.Now()
	accepted, throttled := 0, 0
	for i := range 200 {
		st, _, err := cs[i%2].Submit(ctxT(t), sm("4599999999", false, fmt.Sprint("fleet ", i)))
		switch {
		case err != nil:
			t.Fatalf("submit %d: %v", i, err)
		case st == pdu.StatusOK:
			accepted++
		case st == pdu.StatusThrottled:
			throttled++
		default:
			t.Fatalf("submit %d: status %v", i, st)
		}
	}
	if took := time.Since(start); took >= 10*time.Second {
		t.Skipf("200 submits took %v: the bound below assumes under 10s", took)
	}
	if accepted < 5 || accepted > 6 || accepted+throttled != 200 {
		t.Fatalf("%d accepted, %d throttled; want 5 or 6 accepted over the fleet", accepted, throttled)
	}
}

// [upstream] max_rate holds for the fleet: at 0.1/s (burst 1) the two
// instances pass one submit between them within 10s (two, one each,
// without a shared store); the others wait submit_wait and get
// ESME_RTHROTTLED.
func TestFleetMaxRate(t *testing.T) {
	ms, s, _, _ := startFleet(t, 2, nil, "max_rate = 0.1", "")
	var cs []*esme.Client
	for _, m := range ms {
		eventually.That(t, 10*time.Second, "four provider binds", func() bool { return m.UpstreamBound() == 4 })
		c, st := bindShop(t, m)
		if st != pdu.StatusOK {
			t.Fatalf("bind: %v", st)
		}
		cs = append(cs, c)
	}
	start := time.Now()
	accepted := 0
	for i := range 10 {
		st, _, err := cs[i%2].Submit(ctxT(t), sm("4599999999", false, fmt.Sprint("paced ", i)))
		switch {
		case err != nil:
			t.Fatalf("submit %d: %v", i, err)
		case st == pdu.StatusOK:
			accepted++
		case st != pdu.StatusThrottled:
			t.Fatalf("submit %d: status %v", i, st)
		}
	}
	if took := time.Since(start); took >= 10*time.Second {
		t.Skipf("10 submits took %v: the bound below assumes under 10s", took)
	}
	if got := s.Stats().Submits; accepted != 1 || got != 1 {
		t.Fatalf("%d accepted, the provider got %d; want 1 over the fleet", accepted, got)
	}
}

// fleet_max_sessions = 3 caps the provider binds of two instances that
// would open 4 each; when one stops, the other takes its places.
func TestFleetMaxSessions(t *testing.T) {
	ms, s, _, _ := startFleet(t, 2, nil, "fleet_max_sessions = 3", "")
	a, b := ms[0], ms[1]
	eventually.That(t, 10*time.Second, "three provider binds over the fleet", func() bool { return a.UpstreamBound()+b.UpstreamBound() == 3 })
	if st := s.Stats(); st.SessionsBound != 3 || st.Binds != 3 {
		t.Fatalf("simulator: %d sessions bound, %d binds; want 3 and 3", st.SessionsBound, st.Binds)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "the other instance taking all three places", func() bool { return b.UpstreamBound() == 3 })
	if got := s.Stats().SessionsBound; got != 3 {
		t.Fatalf("simulator: %d sessions bound, want 3", got)
	}
}

// With Redis down every instance applies its own limits: binds up to its
// own max_binds, and every submit is answered (here all within the
// rule's local rate), none waiting on Redis.
func TestFleetRedisDown(t *testing.T) {
	const client = `max_binds = 1
  [[client.rule]]
  module = "rate_limit"
  rate = 1000
  burst = 1000`
	core, logs := observer.New(zapcore.ErrorLevel)
	ms, _, stop, restart := startFleet(t, 1, zap.New(zapcore.NewTee(core, zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)).Core())), "", client)
	m := ms[0]
	eventually.That(t, 10*time.Second, "four provider binds", func() bool { return m.UpstreamBound() == 4 })
	stop()
	t.Cleanup(restart) // so that Shutdown finds Redis back
	c, st := bindShop(t, m)
	if st != pdu.StatusOK {
		t.Fatalf("bind with Redis down: %v", st)
	}
	if _, st := bindShop(t, m); st != pdu.StatusAlreadyBound {
		t.Fatalf("second bind with Redis down: %v, want ESME_RALYBND from the local max_binds", st)
	}
	for i := range 50 {
		st, _, err := c.Submit(ctxT(t), sm("4599999999", false, fmt.Sprint("down ", i)))
		if err != nil || st != pdu.StatusOK {
			t.Fatalf("submit %d with Redis down: %v %v", i, st, err)
		}
	}
	// Logged once, the repeats counted (within 10 s of the first line).
	if n := logs.FilterMessageSnippet("fleet limits: the store failed").Len(); n != 1 {
		t.Fatalf("the store's failure logged %d times by the fleet limits, want once", n)
	}
}
