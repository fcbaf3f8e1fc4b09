// Package ratelimit is the rule.rate_limit module: a token bucket over all
// binds of a client.
//
// # Name
//
// rule.rate_limit: limits a client's submit_sm rate; over it, ESME_RTHROTTLED.
//
// # Description
//
// Every tenant shares one provider account, whose throughput is the sum of
// its upstream binds; one client sending as fast as it can would starve
// the others. This rule gives a client a token bucket (golang.org/x/time/rate)
// of rate tokens per second holding at most burst tokens. Each submit_sm
// takes a token; when none is left it is rejected at once with
// ESME_RTHROTTLED (0x58, SMPP 3.4 §5.1.3), which well-behaved clients
// answer by slowing down and resending. The bucket is shared by all of the
// client's sessions, since the rule is built once per client and config;
// a config reload starts a fresh, full bucket.
//
// When several mux instances share the store ([store] module = "redis"),
// the bucket is the fleet's: rate and burst hold for the client's binds on
// every instance together (a GCRA bucket in Redis, named for the client
// and the rule's position, so a reload keeps its state). Each instance
// takes tokens in batches of a tenth of a second's worth (at least 1, at
// most burst) and holds a batch at most a second, so over any time T the
// fleet passes at most burst + rate × T + one batch per instance. While
// Redis cannot be reached (a call takes over 250ms or fails), each
// instance applies rate and burst on its own, as without a shared store,
// and asks Redis again a second later; the mux logs it once per 10s
// with a count.
//
// # Configuration
//
//	rate   float  required; submits per second, > 0 (fractions allowed: 0.5 is one every 2s)
//	burst  int    default (or 0) ceil(rate); submits allowed back to back after a pause
//
// # Example
//
//	[[client.rule]]
//	module = "rate_limit"
//	rate = 50
//	burst = 100
//
// # Metrics
//
// None of its own: rejects are answered 0x58 and counted by the mux with
// the other submit_sm_resp statuses.
package ratelimit
