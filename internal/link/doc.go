// Package link holds what both sides of smpp-mux share: a Conn that runs one
// SMPP connection with exactly two goroutines (a read loop that hands each
// frame to a Handler, and a write loop that flushes a bounded outbound
// buffer), enquire_link keep-alive and dead-peer detection, per-connection
// sequence numbers, and Window, the fixed-capacity table of requests waiting
// for their response.
//
// Start with Conn.Serve and Conn.Send in conn.go.
package link
