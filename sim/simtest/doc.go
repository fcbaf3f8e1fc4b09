// Package simtest runs a sim.Server for a test, shaped like
// net/http/httptest: NewServer listens on 127.0.0.1:0 (one listener per
// simulated provider host), serves until the test ends and, in t.Cleanup,
// shuts the server down and waits for every goroutine it started.
//
// Start reading at NewServer; the Options beside it script the simulator
// (credentials, latency, receipt delay, throttling, errors, window).
package simtest
