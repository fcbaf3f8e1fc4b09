package sim_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait of these tests.
const wait = esme.Wait

// dial connects a client that reads ahead and answers unbind, and
// answers deliver_sm when autoAck is on; t.Cleanup closes it.
func dial(t *testing.T, addr string, autoAck bool) *esme.Conn {
	t.Helper()
	return esme.DialConn(t, addr, esme.ConnOptions{Background: true, AnswerUnbind: true, AckDeliver: autoAck})
}

// textSM is a submit_sm of GSM 7-bit text to an international number.
func textSM(text string, regDlr byte) *pdu.SM {
	return &pdu.SM{
		SourceTON: 5, SourceAddr: []byte("Shop"),
		DestTON: 1, DestNPI: 1, DestAddr: []byte("4512345678"),
		RegisteredDelivery: regDlr, ShortMessage: []byte(text),
	}
}

// dialBound dials and binds as a transceiver of "acct" / "pw".
func dialBound(t *testing.T, addr string, id pdu.CommandID, autoAck bool) *esme.Conn {
	t.Helper()
	c := dial(t, addr, autoAck)
	c.Bind(id, "acct", "pw", pdu.StatusOK)
	return c
}
