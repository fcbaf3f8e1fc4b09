package mux

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/upstream"
)

// Metrics counts what the mux does; admin exports it. Counters only grow.
type Metrics struct {
	binds          atomic.Uint64 // client binds accepted
	submits        atomic.Uint64 // submit_sm received from clients
	submitOK       atomic.Uint64 // submit_sm_resp with status 0 sent to clients
	submitErr      atomic.Uint64 // submit_sm_resp with an error status sent to clients
	noRoom         atomic.Uint64 // submits answered ESME_RTHROTTLED for want of upstream room
	retries        atomic.Uint64 // submits sent again after the provider's ESME_RTHROTTLED
	reports        atomic.Uint64 // receipts stored for a client
	mos            atomic.Uint64 // MOs stored for a client
	orphaned       atomic.Uint64 // receipts whose message id stayed unknown past dlr_grace
	delivered      atomic.Uint64 // deliver_sm acknowledged by clients
	storeErrors    atomic.Uint64 // store writes that failed
	matchedLate    atomic.Uint64 // receipts stored unmatched, moved to their client once the id was known
	deliverDropped atomic.Uint64 // deliver_sm dropped by a client's deliver rule
	resent         atomic.Uint64 // the provider's resends of reports already stored, answered and not stored again
	idsWrittenBack atomic.Uint64 // message ids the store failed to take, written to it later
	idsUnjournaled atomic.Uint64 // message ids neither the store nor the journal took: kept in memory only
	badMessageIDs  atomic.Uint64 // submit_sm_resp whose message_id is not a valid C-Octet String
	handedOver     atomic.Uint64 // reports stored leased and handed to their client's dispatcher (dispatch_handoff.go)
	wakeups        atomic.Uint64 // store wake-ups (store.Notifier) for a client of this config: another instance stored something for it
	wakeAll        atomic.Uint64 // store wake-ups of every client: the store (re)subscribed and may have missed some
	idsShortened   atomic.Uint64 // message ids whose expiry was brought forward to final_ttl after a final receipt

	bindsRefused [numBindRefusals]atomic.Uint64 // client binds refused by Bind, by reason

	statusMu sync.Mutex            // guards byStatus
	byStatus map[pdu.Status]uint64 // submit_sm_resp statuses sent to clients
}

func (mt *Metrics) answered(st pdu.Status) {
	if st == pdu.StatusOK {
		mt.submitOK.Add(1)
		return
	}
	mt.submitErr.Add(1)
	mt.statusMu.Lock()
	if mt.byStatus == nil {
		mt.byStatus = map[pdu.Status]uint64{}
	}
	mt.byStatus[st]++
	mt.statusMu.Unlock()
}

func (mt *Metrics) reportStored(r report) {
	if r.kind == store.KindMO {
		mt.mos.Add(1)
	} else {
		mt.reports.Add(1)
	}
}

// bindRefusal is why Bind refused a client's bind.
type bindRefusal int

const (
	refusedUnknownSystemID bindRefusal = iota // ESME_RINVSYSID
	refusedWrongPassword                      // ESME_RINVPASWD
	refusedNotAllowed                         // ESME_RINVPASWD: the remote address is not in allow
	refusedMaxBinds                           // ESME_RALYBND: max_binds reached
	numBindRefusals
)

// bindRefusalNames are the reason label values of bindRefusal.
var bindRefusalNames = [numBindRefusals]string{"unknown_system_id", "wrong_password", "not_allowed", "max_binds"}

// clientStats counts one client's submits and the statuses it was
// answered with; the status set is small and bounded (the spec's and the
// provider's codes).
type clientStats struct {
	submits atomic.Uint64
	// bindsRefused counts the client's binds Bind refused, by reason
	// (but unknown_system_id, which names no client).
	bindsRefused [numBindRefusals]atomic.Uint64
	mu           sync.Mutex // guards byStatus, refusedBy
	byStatus     map[pdu.Status]uint64
	// refusedBy counts the deliver_sm the client answered with an error,
	// by command_status.
	refusedBy map[pdu.Status]uint64
}

func (cs *clientStats) refused(st pdu.Status) {
	cs.mu.Lock()
	if cs.refusedBy == nil {
		cs.refusedBy = map[pdu.Status]uint64{}
	}
	cs.refusedBy[st]++
	cs.mu.Unlock()
}

func (cs *clientStats) answered(st pdu.Status) {
	cs.mu.Lock()
	if cs.byStatus == nil {
		cs.byStatus = map[pdu.Status]uint64{}
	}
	cs.byStatus[st]++
	cs.mu.Unlock()
}

// ClientCounters is a snapshot of one client's counts.
type ClientCounters struct {
	Submits  uint64
	ByStatus map[pdu.Status]uint64 // submit_sm_resp sent, by command_status
	Refused  map[pdu.Status]uint64 // deliver_sm the client answered with an error, by command_status
	// BindsRefused counts the client's binds refused, by reason:
	// wrong_password, not_allowed, max_binds; reasons never seen are left
	// out.
	BindsRefused map[string]uint64
}

func (cs *clientStats) snapshot() ClientCounters {
	c := ClientCounters{Submits: cs.submits.Load(), ByStatus: map[pdu.Status]uint64{}, Refused: map[pdu.Status]uint64{}, BindsRefused: map[string]uint64{}}
	for r := range cs.bindsRefused {
		if n := cs.bindsRefused[r].Load(); n > 0 {
			c.BindsRefused[bindRefusalNames[r]] = n
		}
	}
	cs.mu.Lock()
	for k, v := range cs.byStatus {
		c.ByStatus[k] = v
	}
	for k, v := range cs.refusedBy {
		c.Refused[k] = v
	}
	cs.mu.Unlock()
	return c
}

// Counters is a snapshot of Metrics.
type Counters struct {
	Binds, Submits, SubmitOK, SubmitErr, NoRoom, Retries uint64
	Reports, MOs, Orphaned, Delivered, StoreErrors       uint64
	MatchedLate, DeliverDropped, Resent                  uint64
	// IDsWrittenBack counts message ids the store failed to take at
	// first, written to it later from memory and the journal;
	// IDsUnjournaled those the journal could not take either (kept in
	// memory only). BadMessageIDs counts the provider's submit_sm_resp
	// whose message_id does not decode (no NUL, or 65 octets and more),
	// stored as the octets sent.
	IDsWrittenBack, IDsUnjournaled, BadMessageIDs uint64
	// Wakeups counts the store's wake-ups (store.Notifier) of one client
	// of this config; WakeAll those of every client, after the store
	// subscribed (again). IDsShortened counts the message ids whose
	// expiry was brought forward to final_ttl after a final receipt.
	Wakeups, WakeAll, IDsShortened uint64
	// HandedOver counts the reports stored already leased and handed
	// straight to their client's dispatcher, not fetched from the store.
	HandedOver uint64
	ByStatus   map[pdu.Status]uint64
	// BindsRefused counts the client binds the mux refused, by reason:
	// unknown_system_id, wrong_password, not_allowed (the remote address
	// is not in allow) and max_binds. The downstream server counts those
	// it refuses before asking (downstream.Stats).
	BindsRefused map[string]uint64
}

// Snapshot returns the current counts.
func (mt *Metrics) Snapshot() Counters {
	c := Counters{
		Binds: mt.binds.Load(), Submits: mt.submits.Load(), SubmitOK: mt.submitOK.Load(), SubmitErr: mt.submitErr.Load(),
		NoRoom: mt.noRoom.Load(), Retries: mt.retries.Load(), Reports: mt.reports.Load(), MOs: mt.mos.Load(),
		Orphaned: mt.orphaned.Load(), Delivered: mt.delivered.Load(), StoreErrors: mt.storeErrors.Load(),
		MatchedLate: mt.matchedLate.Load(), DeliverDropped: mt.deliverDropped.Load(), Resent: mt.resent.Load(),
		IDsWrittenBack: mt.idsWrittenBack.Load(), IDsUnjournaled: mt.idsUnjournaled.Load(), BadMessageIDs: mt.badMessageIDs.Load(),
		Wakeups: mt.wakeups.Load(), WakeAll: mt.wakeAll.Load(), IDsShortened: mt.idsShortened.Load(),
		HandedOver: mt.handedOver.Load(),
		ByStatus:   map[pdu.Status]uint64{}, BindsRefused: make(map[string]uint64, numBindRefusals),
	}
	for r, name := range bindRefusalNames {
		c.BindsRefused[name] = mt.bindsRefused[r].Load()
	}
	mt.statusMu.Lock()
	for k, v := range mt.byStatus {
		c.ByStatus[k] = v
	}
	mt.statusMu.Unlock()
	return c
}

// ClientCounters returns each configured client's counts, by system_id.
func (m *Mux) ClientCounters() map[string]ClientCounters {
	out := map[string]ClientCounters{}
	for id, c := range m.live.Load().byID {
		out[id] = c.stats.snapshot()
	}
	return out
}

// UpstreamCounters are one upstream session's counters.
type UpstreamCounters struct {
	Host       string
	Session    int
	Binds      uint64        // connections that bound: reconnects are Binds-1
	Latency    []uint64      // submit_sm round trips, cumulative per bucket of UpstreamLatencyBuckets, then the total
	LatencySum time.Duration // of all round trips
	// Responses counts the provider's submit_sm_resp by command_status;
	// OtherResponses those past the 32 statuses a session tells apart.
	Responses      map[pdu.Status]uint64
	OtherResponses uint64
}

// UpstreamLatencyBuckets are the bounds of UpstreamCounters.Latency.
var UpstreamLatencyBuckets = upstream.LatencyBuckets

// UpstreamCounters returns the counters of the current upstream sessions.
func (m *Mux) UpstreamCounters() []UpstreamCounters {
	var out []UpstreamCounters
	for _, s := range m.router.up.Load().pool.Sessions() {
		st := s.Stats()
		out = append(out, UpstreamCounters{Host: s.Host(), Session: s.Index(), Binds: st.Binds, Latency: st.Latency, LatencySum: st.LatencySum,
			Responses: st.Responses, OtherResponses: st.OtherResponses})
	}
	return out
}
