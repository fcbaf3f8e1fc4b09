// Package upstream is the client side of smpp-mux: a Pool of SMPP binds to
// one provider account, SessionsPerHost slots on each host, each keeping one
// connection bound and replacing it when it ends.
//
// A slot dials (TCP or TLS), binds within ResponseTimeout and serves the
// connection with internal/link (enquire_link every EnquireLink, a silent
// peer dropped after EnquireLink+ResponseTimeout). When the connection ends
// every submit still waiting gets SubmitDone(ErrSessionLost); the slot then
// reconnects after an exponential back-off with full jitter, capped at
// ReconnectDelay, whose first retry is quick because the provider restarts
// one host at a time. A slot closes its old connection before it dials a
// new one, so the pool never holds more than Hosts×SessionsPerHost
// connections. With a Config.Gate (the mux's fleet-wide cap on provider
// binds) a slot also holds a place of the Gate from before it dials until
// its connection ends, and waits for one meanwhile. Credentials refused by the provider are logged at Error
// once, and retried only every ReconnectDelay.
//
// Pool.Reconfigure moves a running pool to new settings one slot at a
// time: slots whose settings and host stay are kept, bound; for each
// other, a new slot is started and, once it is bound, the old one is
// retired (no new submits, those in flight answered, then unbind). So
// the pool holds at most one connection more than the larger of its old
// and new slot counts.
//
// Session.Submit copies a submit_sm, gives it the connection's next
// sequence number and keeps it in a link.Window until its submit_sm_resp,
// ResponseTimeout or the end of the connection; Waiter.SubmitDone reports
// the outcome exactly once. ESME_RTHROTTLED pauses the session for
// ThrottlePause. deliver_sm goes to the Handler, which answers with
// Session.Reply once the report is stored. Pool.Room wakes callers waiting
// for capacity.
//
// Each slot runs one goroutine, which also runs its connection's read
// loop, plus link.Conn's flush goroutine while frames wait to be written;
// the Pool waits for all of them in Shutdown and Close.
//
// Start reading at Pool in pool.go, then Session.run in slot.go,
// connLink.HandleFrame in handle.go and Pool.Reconfigure in
// reconfigure.go.
package upstream
