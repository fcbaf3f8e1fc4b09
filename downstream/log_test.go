package downstream

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// A client that unbinds ends its session normally: the log line says so
// and carries no error field; a dropped connection's line names its cause.
func TestUnbindLoggedWithoutError(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	ts := startServer(t, Config{Logger: zap.New(core)}, newBinder())
	c := dial(t, ts.addr)
	c.bind(pdu.CmdBindTransceiver, "shop", "secret", pdu.StatusOK)
	seq := c.send(pdu.CmdUnbind, 0, nil)
	c.expect(pdu.CmdUnbindResp, pdu.StatusOK, seq)
	eventually(t, waitBound, func() bool { return logs.FilterMessage("session unbound").Len() == 1 }, "the unbind logged")
	if e := logs.FilterMessage("session unbound").All()[0]; e.ContextMap()["error"] != nil {
		t.Errorf("a normal unbind logged with an error: %v", e.ContextMap())
	}
	d := dial(t, ts.addr)
	d.bind(pdu.CmdBindTransceiver, "bank", "vault", pdu.StatusOK)
	d.nc.Close()
	eventually(t, 5*time.Second, func() bool { return logs.FilterMessage("session closed").Len() == 1 }, "the drop logged")
	if e := logs.FilterMessage("session closed").All()[0]; e.ContextMap()["error"] == nil {
		t.Errorf("a dropped session logged without its cause: %v", e.ContextMap())
	}
}
