// Package link holds what both sides of smpp-mux share: a Conn that runs one
// SMPP connection (a read loop on the goroutine that calls Serve, which hands
// each frame to a Handler, and a flush goroutine that runs only while frames
// wait to be written), enquire_link keep-alive and dead-peer detection on a
// timer, per-connection sequence numbers, and Window, the fixed-capacity
// table of requests waiting for their response.
//
// An idle connection holds no buffers: reads take a buffer from a pool when
// input arrives (on a plain socket the wait for input happens in the
// network poller, empty-handed), and the outbound queue is a pooled buffer
// while it is not empty.
//
// Start with Conn.Serve and Conn.Send in conn.go; the framing is in
// reader.go.
package link
