// Package mux is the routing core of smpp-mux: it owns the config loader
// and Mux, which wires the downstream server clients bind to, the upstream
// pool to the provider, and the store to three rooms, each a type with its
// own files and tests. The modules it loads (rules, stores, balancers) are
// built on package module, not on mux.
//
//   - Router (router*.go): the submit path. A submit_sm flows
//     binding.Submit -> the client's rule chain -> its fair share of the
//     upstream windows and max_rate's pace (router_fair.go) -> the
//     balancer (router_balancer.go) -> upstream.Session.SubmitAt, with its
//     sequence number mapped; the provider's answer comes back through
//     binding.SubmitDone with the client's own sequence number. A message
//     id the client wants a receipt for is handed to the Intake.
//   - Intake (intake*.go): everything that goes into the store. Message
//     ids are stored (or journaled, intake_journal.go) before the client
//     sees its submit_sm_resp. A deliver_sm from any upstream session
//     flows Intake.Deliver -> report batcher (classify, resolve the id,
//     intake_ids.go; drop resends, intake_dedup.go) -> store.Enqueue ->
//     deliver_sm_resp to the provider; a receipt whose id is not known yet
//     waits in the orphan queue for the matcher (intake_unmatched.go).
//   - Dispatcher (dispatch*.go): per-client delivery from the store: one
//     goroutine a client fetches its queue within its sessions' windows,
//     runs its deliver rules, and acknowledges or releases what the
//     client answered; refused entries back off (dispatch_backoff.go).
//     Reports for a client bound here skip the Fetch: the Intake stores
//     them already leased (store.LeasedEnqueuer) and hands them to the
//     client's slot, which its dispatcher delivers first
//     (dispatch_handoff.go, intake_handoff.go).
//
// A change to how receipts are stored touches the Intake; to how they
// reach clients, the Dispatcher; to how submits reach the provider, the
// Router. What the rooms share (rooms.go) is set once by New: the store,
// the clients of the config in force (client.go), the counters
// (metrics.go), the logs and the message traces (history.go, which also
// answers GET /messages/{id}). The rooms do not call Mux; the Router
// calls the Intake (ids), and a binding (router_submit.go) hands its
// client's answers to deliveries to the Dispatcher.
//
// Mux itself (mux.go) keeps the wiring, the lifecycle (New, Start,
// Shutdown; Reload in reload.go), the binds (client.go) and the admin
// accessors (Status, Queue and MoveOrphans in queues.go, counters).
// Rules and balancers are modules (package module, package balancer);
// rule.go and rulegen.go run them: the Router the submit rules, the
// Dispatcher the deliver rules. Fleet-wide limits, when instances share
// the store, are in fleet.go.
//
// Batching: ids and reports reach the store in batches (batch.go), one
// write for many; with store.bolt an id batch and a report batch ready
// together share one commit (intake_pairing.go). That pairing stays in
// the Intake rather than in store/bolt: it waits for a batch the Intake
// is still preparing, which only the Intake's batchers know of; the
// store already shares a commit among the writes that reach it while one
// runs, and acknowledgements already ride along in its next commit
// (store/bolt's ack.go).
//
// Start with package module (the Module lifecycle), then mux.go and the
// room you need.
package mux
