package mux

import (
	"sync/atomic"

	"go.uber.org/zap"
)

// Router is the room of the submit path, DESIGN's mux.Router: a client's
// submit_sm (binding.Submit, on its session's read goroutine) runs the
// client's rule chain, waits for its fair share of the upstream windows
// (router_fair.go) and [upstream] max_rate's pace, and goes to the
// session the balancer picks (router_balancer.go: concatenated parts stay
// on one session) with its sequence number patched; the provider's
// submit_sm_resp comes back through binding.SubmitDone with the client's
// own sequence number restored (the ref of router_submit.go), retried on
// another session after ESME_RTHROTTLED. A message id the client wants a
// receipt for goes to the Intake, which stores it before the client sees
// its submit_sm_resp.
type Router struct {
	shared
	badIDLog *zap.Logger            // sampled: a provider's malformed message_ids, one a submit
	up       atomic.Pointer[upPool] // the upstream pool, balancer and pacer; replaced by a reload of [upstream]
	affinity affinity
	fair     fairShare
	intake   *Intake // takes the message ids of submits that want a receipt
}

func newRouter(sh shared, badIDLog *zap.Logger, in *Intake) *Router {
	return &Router{shared: sh, badIDLog: badIDLog, intake: in}
}
