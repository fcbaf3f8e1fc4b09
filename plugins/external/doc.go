// Package external is the rule.plugin module: a per-client rule that runs
// in its own process, written by anyone with package plugins/sdk and
// started through hashicorp/go-plugin over gRPC. Start reading at Plugin
// (external.go), then batch.go (how messages reach the plugin) and
// supervise.go (start, watch, restart).
//
// # Name
//
// plugin — [[client.rule]] module = "plugin" (ID rule.plugin).
//
// # Description
//
// Provision starts the command, checks go-plugin's handshake
// (host.Handshake) and keeps the process for the life of the config. A
// reload that leaves the rule unchanged (same command, env, timeout and
// on_error at the same place of the same client) hands the running
// process to the new config's module instead of starting another: the
// two share it, reference-counted, and the last one cleaned up stops it
// (share.go, after Caddy's UsagePool). Each
// submit_sm of the client is copied into an sdk.Message and queued; one
// worker sends what has accumulated as one SubmitBatch call, so a busy
// client's sessions share round trips. The plugin's verdict is applied
// through module.Message's setters (SetTLV, DeleteTLV, SetPriority,
// SetDestTON, SetSourceAddr, SetShortMessage, SetDataCoding, SetESMClass,
// SetRegisteredDelivery) or becomes the reject status the client sees.
//
// A plugin whose rule implements sdk.Deliverer also sees each deliver_sm
// (receipt or MO) of the client on its way out (module.DeliverRule):
// Provision probes the optional Deliver RPC, and a plugin that answers
// Unimplemented is left out of the client's deliver chain and never asked
// again. Its verdict changes the deliver_sm or drops it (reject). A
// Deliver that fails or times out lets the deliver_sm go out unchanged,
// whatever on_error says: a broken plugin never loses a receipt.
//
// Every call has a deadline. When the plugin times out, crashes, breaks
// the protocol or its rule returns an error or panics, the message gets
// on_error: "reject" answers ESME_RSYSERR (0x08), "pass" lets it through
// unchanged. A crashed or wedged plugin is restarted in the background
// with back-off (100ms doubling to 10s); until it is back, on_error
// applies at once. The plugin's stderr reaches the mux's log under the
// module's name; lines from sdk.Logger keep their level. A plugin never
// writes to stdout (go-plugin's handshake); lines that reach it anyway are
// logged at Warn.
//
// # Configuration
//
//	[[client.rule]]
//	module   = "plugin"
//	command  = ["./my-rule", "-flag"] # argv; required
//	timeout  = "2s"                   # per message; default 2s
//	on_error = "reject"               # "reject" (default, 0x08) or "pass"
//	env      = { NAME = "value" }     # optional; or ["NAME=value"]; added to the mux's environment
//
// # Example
//
// plugins/examples/premium-class/README.md builds a plugin and configures
// it:
//
//	[[client.rule]]
//	module  = "plugin"
//	command = ["./premium-class", "-prefix", "45"]
//
// # Metrics
//
// smppmux_rule_events_total{client,rule,module="plugin",event}, one series
// per plugin rule of a client (rule is its position in the client's
// list), counted through module.Context.EventCounter so that a reload that
// keeps the rule in place carries the counts on: event "calls" (messages
// given to the rule), "errors" (messages that got on_error), "restarts"
// (start attempts after a failure) and "batches" (SubmitBatch calls;
// calls/batches is the mean batch size). Plugin has accessors for each
// (Calls, Errors, Restarts, Batches); PID gives the running process.
package external
