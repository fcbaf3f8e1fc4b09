package admin

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// collector reads the mux's counters at scrape time, so that the per-PDU
// path only increments atomics.
type collector struct{ m *mux.Mux }

var (
	descBinds     = prometheus.NewDesc("smppmux_downstream_binds_total", "Client binds accepted.", nil, nil)
	descSubmits   = prometheus.NewDesc("smppmux_submits_total", "submit_sm received from clients.", nil, nil)
	descAnswers   = prometheus.NewDesc("smppmux_submit_responses_total", "submit_sm_resp sent to clients, by command_status.", []string{"status"}, nil)
	descNoRoom    = prometheus.NewDesc("smppmux_submits_no_room_total", "Submits answered ESME_RTHROTTLED for want of upstream room.", nil, nil)
	descRetries   = prometheus.NewDesc("smppmux_submit_retries_total", "Submits sent again after the provider's ESME_RTHROTTLED.", nil, nil)
	descReports   = prometheus.NewDesc("smppmux_reports_stored_total", "deliver_sm stored for clients, by kind.", []string{"kind"}, nil)
	descOrphaned  = prometheus.NewDesc("smppmux_reports_orphaned_total", "Receipts whose message id stayed unknown past dlr_grace.", nil, nil)
	descDelivered = prometheus.NewDesc("smppmux_deliveries_acked_total", "deliver_sm acknowledged by clients.", nil, nil)
	descHanded    = prometheus.NewDesc("smppmux_reports_handed_over_total", "Reports and MOs stored already leased and handed straight to their client bound on this instance, without a fetch from the store.", nil, nil)
	descStoreErr  = prometheus.NewDesc("smppmux_store_errors_total", "Store writes that failed.", nil, nil)
	descUpstream  = prometheus.NewDesc("smppmux_upstream_sessions", "Upstream session slots, by host and state.", []string{"host", "state"}, nil)
	descPending   = prometheus.NewDesc("smppmux_upstream_pending", "Submits waiting for the provider's response, by host.", []string{"host"}, nil)
	descBound     = prometheus.NewDesc("smppmux_downstream_sessions", "Bound client sessions, by client.", []string{"client"}, nil)
	descQueued    = prometheus.NewDesc("smppmux_queue_depth", "Reports and MOs waiting in the store, by client.", []string{"client"}, nil)
	descHeld      = prometheus.NewDesc("smppmux_reports_held", "Receipts held while their message id is unknown.", nil, nil)
	descMatched   = prometheus.NewDesc("smppmux_reports_matched_late_total", "Receipts stored unmatched in the orphan queue, moved to their client once the message id was known.", nil, nil)
	descConns     = prometheus.NewDesc("smppmux_downstream_connections", "Open client connections, by state.", []string{"state"}, nil)
	descDropped   = prometheus.NewDesc("smppmux_deliveries_dropped_total", "deliver_sm dropped by a client's deliver rule.", nil, nil)
	descClientSub = prometheus.NewDesc("smppmux_client_submits_total", "submit_sm received, by client.", []string{"client"}, nil)
	descClientRef = prometheus.NewDesc("smppmux_client_deliveries_refused_total", "deliver_sm a client answered with an error, by client and command_status; each waits a back-off (1 s doubling to 60 s) before it is delivered again.", []string{"client", "status"}, nil)
	descClientAns = prometheus.NewDesc("smppmux_client_submit_responses_total", "submit_sm_resp sent, by client and command_status.", []string{"client", "status"}, nil)
	descRuleEv    = prometheus.NewDesc("smppmux_rule_events_total", "Events counted by rule modules (plugin calls, errors, restarts), by client, rule position (from 0, in config order) and module.", []string{"client", "rule", "module", "event"}, nil)
	descBindsUp   = prometheus.NewDesc("smppmux_upstream_binds_total", "Upstream connections that bound, by host and slot; reconnects are this minus one.", []string{"host", "session"}, nil)
	descLatency   = prometheus.NewDesc("smppmux_upstream_submit_seconds", "Round trip of submit_sm to the provider, by host.", []string{"host"}, nil)
	descUpResp    = prometheus.NewDesc("smppmux_upstream_responses_total", "submit_sm_resp from the provider, by host and command_status (a generic_nack as its status; \"other\" past 32 statuses per session).", []string{"host", "status"}, nil)
	descResent    = prometheus.NewDesc("smppmux_reports_resent_total", "The provider's resends of reports already stored: answered, not stored again.", nil, nil)
	descClosed    = prometheus.NewDesc("smppmux_downstream_closed_total", "Bound client sessions the mux closed, by reason.", []string{"reason"}, nil)
	descRefused   = prometheus.NewDesc("smppmux_downstream_refused_total", "Client connections closed for a limit: the new one at once, or at max_unbound the oldest one not bound.", []string{"limit"}, nil)
	descBindsRef  = prometheus.NewDesc("smppmux_downstream_binds_refused_total", "Client binds refused, by reason.", []string{"reason"}, nil)
	descWakeups   = prometheus.NewDesc("smppmux_store_wakeups_total", "Dispatchers woken by the store (store.redis) because another instance queued something: for one client (scope client), or every client after the store subscribed again and may have missed some (scope all).", []string{"scope"}, nil)
	descShortened = prometheus.NewDesc("smppmux_ids_shortened_total", "Message ids whose expiry was brought forward to store.final_ttl after a receipt with a final state was stored.", nil, nil)
	descLockouts  = prometheus.NewDesc("smppmux_downstream_lockouts_total", "Remote IPs locked out after bind_fail_limit failed binds.", nil, nil)
	descIDsPend   = prometheus.NewDesc("smppmux_ids_pending_writeback", "Message ids the store failed to write, kept in memory and the journal until it takes them.", nil, nil)
	descIDsBack   = prometheus.NewDesc("smppmux_ids_written_back_total", "Message ids the store failed to write at first, written to it later.", nil, nil)
	descBadIDs    = prometheus.NewDesc("smppmux_upstream_bad_message_ids_total", "The provider's submit_sm_resp whose message_id is not a valid C-Octet String (no NUL, or 65 octets and more), stored as the octets sent.", nil, nil)
	descIDsMem    = prometheus.NewDesc("smppmux_ids_unjournaled_total", "Message ids neither the store nor the journal could take: kept in memory only, lost if the process stops first.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBinds, descSubmits, descAnswers, descNoRoom, descRetries, descReports,
		descOrphaned, descDelivered, descHanded, descStoreErr, descUpstream, descPending, descBound, descQueued, descHeld,
		descMatched, descConns, descRefused, descDropped, descClientSub, descClientAns, descClientRef, descRuleEv, descBindsUp, descLatency, descClosed, descResent,
		descBindsRef, descLockouts, descIDsPend, descIDsBack, descIDsMem, descBadIDs, descUpResp, descWakeups, descShortened} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	n := c.m.Metrics().Snapshot()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descBinds, n.Binds)
	counter(descSubmits, n.Submits)
	counter(descAnswers, n.SubmitOK, "ESME_ROK")
	for st, v := range n.ByStatus {
		counter(descAnswers, v, st.String())
	}
	counter(descNoRoom, n.NoRoom)
	counter(descRetries, n.Retries)
	counter(descReports, n.Reports, "receipt")
	counter(descReports, n.MOs, "mo")
	counter(descOrphaned, n.Orphaned)
	counter(descDelivered, n.Delivered)
	counter(descHanded, n.HandedOver)
	counter(descStoreErr, n.StoreErrors)
	counter(descMatched, n.MatchedLate)
	counter(descDropped, n.DeliverDropped)
	counter(descResent, n.Resent)
	counter(descIDsBack, n.IDsWrittenBack)
	counter(descIDsMem, n.IDsUnjournaled)
	counter(descBadIDs, n.BadMessageIDs)
	counter(descWakeups, n.Wakeups, "client")
	counter(descWakeups, n.WakeAll, "all")
	counter(descShortened, n.IDsShortened)
	for id, cc := range c.m.ClientCounters() {
		counter(descClientSub, cc.Submits, id)
		for st, v := range cc.ByStatus {
			counter(descClientAns, v, id, st.String())
		}
		for st, v := range cc.Refused {
			counter(descClientRef, v, id, st.String())
		}
	}
	for _, rc := range c.m.RuleCounters() {
		counter(descRuleEv, rc.Value, rc.Client, strconv.Itoa(rc.Rule), rc.Module, rc.Event)
	}
	c.upstream(ch)
	ds := c.m.DownstreamStats()
	gauge(descConns, float64(ds.Connections-ds.Unbound), "bound")
	gauge(descConns, float64(ds.Unbound), "unbound")
	counter(descRefused, ds.RefusedTotal, "max_connections")
	counter(descRefused, ds.RefusedPerIP, "max_connections_per_ip")
	counter(descRefused, ds.RefusedUnboundPerIP, "max_unbound_per_ip")
	counter(descRefused, ds.EvictedUnbound, "max_unbound") // the oldest unbound one, not the new one
	counter(descClosed, ds.SlowConsumers, "slow_consumer")
	counter(descClosed, ds.DeadPeers, "dead_peer")
	for reason, v := range n.BindsRefused {
		counter(descBindsRef, v, reason)
	}
	counter(descBindsRef, ds.BindsLocked, "locked_out")
	counter(descBindsRef, ds.BindsMalformed, "malformed")
	counter(descLockouts, ds.Lockouts)
	st := c.m.Status()
	states := map[[2]string]int{}
	pending := map[string]int{}
	for _, u := range st.Upstream {
		states[[2]string{u.Host, u.State}]++
		pending[u.Host] += u.Pending
	}
	for k, v := range states {
		gauge(descUpstream, float64(v), k[0], k[1])
	}
	for h, v := range pending {
		gauge(descPending, float64(v), h)
	}
	bound := map[string]int{}
	for _, d := range st.Downstream {
		bound[d.SystemID]++
	}
	for cl, v := range bound {
		gauge(descBound, float64(v), cl)
	}
	for cl, v := range st.Queued {
		gauge(descQueued, float64(v), cl)
	}
	gauge(descHeld, float64(st.Held))
	gauge(descIDsPend, float64(st.PendingIDs))
}

// upstream exports each session's binds and, per host, the provider's
// answers and the submit_sm round-trip histogram.
func (c *collector) upstream(ch chan<- prometheus.Metric) {
	ucs := c.m.UpstreamCounters()
	for _, u := range ucs {
		ch <- prometheus.MustNewConstMetric(descBindsUp, prometheus.CounterValue, float64(u.Binds), u.Host, strconv.Itoa(u.Session))
	}
	for host, h := range upstreamHosts(ucs) {
		buckets := make(map[float64]uint64, len(mux.UpstreamLatencyBuckets))
		for i, b := range mux.UpstreamLatencyBuckets {
			buckets[b.Seconds()] = h.counts[i]
		}
		total := h.counts[len(h.counts)-1]
		ch <- prometheus.MustNewConstHistogram(descLatency, total, h.sum, buckets, host)
		for st, v := range h.responses {
			ch <- prometheus.MustNewConstMetric(descUpResp, prometheus.CounterValue, float64(v), host, st.String())
		}
		if h.other > 0 {
			ch <- prometheus.MustNewConstMetric(descUpResp, prometheus.CounterValue, float64(h.other), host, "other")
		}
	}
}

// hostTotals are one upstream host's counters summed over its slots.
type hostTotals struct {
	counts    []uint64 // cumulative, per bucket of mux.UpstreamLatencyBuckets, then the total
	sum       float64  // seconds
	responses map[pdu.Status]uint64
	other     uint64
}

// upstreamHosts sums the slots' counters by host.
func upstreamHosts(ucs []mux.UpstreamCounters) map[string]*hostTotals {
	byHost := map[string]*hostTotals{}
	for _, u := range ucs {
		h := byHost[u.Host]
		if h == nil {
			h = &hostTotals{counts: make([]uint64, len(u.Latency)), responses: map[pdu.Status]uint64{}}
			byHost[u.Host] = h
		}
		for i, v := range u.Latency {
			h.counts[i] += v
		}
		h.sum += u.LatencySum.Seconds()
		for st, v := range u.Responses {
			h.responses[st] += v
		}
		h.other += u.OtherResponses
	}
	return byHost
}

// quantile estimates the q-quantile, in seconds, of a histogram of
// cumulative counts per bucket of mux.UpstreamLatencyBuckets (the last
// is the total), interpolating within the bucket as Prometheus'
// histogram_quantile does; past the last bound it answers the last bound.
func quantile(q float64, counts []uint64) float64 {
	total := counts[len(counts)-1]
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for i, b := range mux.UpstreamLatencyBuckets {
		upper := b.Seconds()
		if float64(counts[i]) >= rank {
			in := counts[i] - below
			if in == 0 {
				return upper
			}
			return lower + (upper-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = upper, counts[i]
	}
	return lower
}
