// Package downstream is the SMPP 3.4 server that ESMEs bind to: the
// listener, bind and authentication, per-remote-address bind lockout, and
// one Session per connection with its deliver_sm window and keep-alive.
//
// The package knows nothing of the mux or of upstream sessions. A Binder
// decides whether a bind is accepted and returns the Handler that gets the
// bound session's traffic: each well-formed submit_sm, the outcome of each
// deliver_sm sent with Session.Deliver, and the end of the session. Every
// other PDU (bind refusals, wrong bind state, malformed submit_sm,
// unsupported commands, unbind) is answered here, as the contract in
// DESIGN.md ("Wire behaviour") lays out; internal/link answers
// enquire_link and a bad command_length (generic_nack, then close).
//
// Each connection runs on one session goroutine (internal/link's read loop),
// plus a flush goroutine while frames wait to be written, and for a bind a
// goroutine that runs the check while the session goroutine waits; an
// idle session holds no buffers, and its goroutine mostly a 2 KiB stack
// (the bind check's deep stack does not land on it: Session.aside). The Server waits for every session goroutine in
// Shutdown and Close.
//
// Start reading with Server.Serve in server.go, then sessionLink.HandleFrame
// in handle.go.
package downstream
