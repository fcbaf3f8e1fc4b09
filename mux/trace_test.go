package mux_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// startObserved starts a mux with client "shop" (password "pw") in front
// of a simulator, logging at debug into the returned observer.
func startObserved(t *testing.T) (*mux.Mux, *observer.ObservedLogs, *simtest.Server) {
	t.Helper()
	s := simtest.NewServer(t, simtest.Account("acct", "secret"))
	core, logs := observer.New(zapcore.DebugLevel)
	m := startMuxLog(t, fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
[store]
module = "memory"
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 1
[[upstream.host]]
address = %q
[[client]]
system_id = "shop"
password = "pw"
`, s.Addr()), zap.New(core))
	eventually.That(t, 5*time.Second, "m.UpstreamBound() == 1", func() bool { return m.UpstreamBound() == 1 })
	return m, logs, s
}

// At debug, a message can be traced by its id: the submit's answer and
// the receipt's storing each log the client (the orphan queue, when the
// receipt came before the id, then "receipt matched" names the client),
// the message_id, the upstream host and session and the status.
func TestTraceByMessageID(t *testing.T) {
	m, logs, s := startObserved(t)
	c, err := esme.Dial(m.Addrs()[0].String(), "shop", "pw", esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "trace me"))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	collect(t, c, 1, 5*time.Second)
	for _, msg := range []string{"submit_sm answered", "report stored"} {
		var found bool
		for _, e := range logs.FilterMessage(msg).All() {
			f := e.ContextMap()
			if msg == "submit_sm answered" && f["latency"] == nil {
				continue
			}
			if f["message_id"] == id && (f["system_id"] == "shop" || f["system_id"] == mux.OrphanQueue) && f["upstream"] == s.Addr() && f["command_status"] == "ESME_ROK" {
				found = found || f["system_id"] == "shop" || logs.FilterMessage("receipt matched").FilterField(zap.String("system_id", "shop")).Len() == 1
			}
		}
		if !found {
			t.Errorf("no %q line for message %s with its client, upstream and status: %v", msg, id, logs.FilterMessage(msg).All())
		}
	}
}

// A refused bind is logged by the downstream side, with its session,
// remote, system_id and the reason.
func TestBindRefusedLogged(t *testing.T) {
	m, logs, _ := startObserved(t)
	if _, err := esme.Dial(m.Addrs()[0].String(), "shop", "guess", esme.Options{}); err == nil {
		t.Fatal("bind with a wrong password succeeded")
	}
	eventually.That(t, 5*time.Second, `logs.FilterMessage("bind refused: wrong password").Len() == 1`, func() bool { return logs.FilterMessage("bind refused: wrong password").Len() == 1 })
	e := logs.FilterMessage("bind refused: wrong password").All()[0]
	f := e.ContextMap()
	if e.LoggerName != "downstream" || f["system_id"] != "shop" || f["session"] == nil || f["remote"] == nil {
		t.Errorf("bind refused logged by %q with %v", e.LoggerName, f)
	}
}
