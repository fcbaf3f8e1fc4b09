// Package sim is an SMSC simulator that behaves like the provider smpp-mux
// fronts (GatewayAPI, see shared/seed/gatewayapi-smpp.txt): it accepts the
// three bind types, answers submit_sm after a scripted delay with a unique
// message id, validates destination TON, data_coding and text as the
// provider does, and sends delivery receipts and mobile originated messages
// as deliver_sm spread round-robin over every receiver and transceiver
// session of the account, on every host, with a per-session window. With
// Config.EchoNumber set, a message to that number comes back to its sender
// as an MO.
//
// One Server is one provider account space: Serve may be called for several
// listeners (the provider's a.smpp and b.smpp hosts) and reports for an
// account go to its sessions on any of them. Tests, benchmarks, `smpp-mux
// demo` and `smpp-mux simulate` use it; sim/simtest wraps it for tests the
// way net/http/httptest wraps net/http.
//
// Goroutines: each connection runs link.Conn's two, plus one scheduler per
// Server for delayed submit_sm_resp and receipts (two FIFOs, since every
// delay is constant). Nothing runs per PDU. Shutdown and Close wait for all
// of them.
//
// Start reading at server.go (Server, Serve, Shutdown), then session.go
// (what each PDU does) and account.go (where reports wait and how they are
// spread).
package sim
