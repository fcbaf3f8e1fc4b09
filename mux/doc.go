// Package mux is the routing core of smpp-mux: it owns the config loader
// and Mux, which ties the downstream server clients bind to, the upstream
// pool to the provider, and the store. The modules it loads (rules,
// stores, balancers) are built on package module, not on mux.
//
// A submit_sm flows binding.Submit -> client's rule chain -> balancer ->
// upstream.Session.Submit; its answer comes back through
// binding.SubmitDone, which stores the message id (when a receipt was
// asked for) before the client sees its submit_sm_resp with its own
// sequence number. A deliver_sm from any upstream session flows
// Mux.Deliver -> report batcher (classify, look up the id, hold it for
// dlr_grace when unknown) -> store.Enqueue -> deliver_sm_resp upstream;
// the client's dispatcher then delivers it to one of its sessions.
// When the store keeps a History, history.go records each step of a
// message for GET /messages/{id}; queues.go reads queues and moves
// orphaned reports for the admin API.
//
// Start with module/module.go (the Module lifecycle), then mux.go and
// submit.go.
package mux
