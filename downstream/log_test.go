package downstream

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// A client that unbinds ends its session normally: the log line says so
// and carries no error field; a dropped connection's line names its cause.
func TestUnbindLoggedWithoutError(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	ts := startServer(t, Config{Logger: zap.New(core)}, newBinder())
	c := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	c.Bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	seq := c.Send(pdu.CmdUnbind, nil)
	c.Expect(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	eventually.That(t, waitBound, "the unbind logged", func() bool { return logs.FilterMessage("session unbound").Len() == 1 })
	if e := logs.FilterMessage("session unbound").All()[0]; e.ContextMap()["error"] != nil {
		t.Errorf("a normal unbind logged with an error: %v", e.ContextMap())
	}
	d := esme.DialConn(t, ts.addr, esme.ConnOptions{})
	d.Bind(pdu.CmdBindTransceiver, "bank", "vault", pdu.StatusOK)
	d.NetConn().Close()
	eventually.That(t, 5*time.Second, "the drop logged", func() bool { return logs.FilterMessage("session closed").Len() == 1 })
	if e := logs.FilterMessage("session closed").All()[0]; e.ContextMap()["error"] == nil {
		t.Errorf("a dropped session logged without its cause: %v", e.ContextMap())
	}
}
