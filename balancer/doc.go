// Package balancer holds the balancer modules (namespace "balancer"),
// which pick the upstream session for each submit_sm: least_pending, the
// default, and round_robin. [upstream] balancer = "name" chooses one; the
// mux loads it as any module (decode, Validate, Provision, Cleanup with
// its config) and calls Pick per message. Start with balancer.go.
package balancer
