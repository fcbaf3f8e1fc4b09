package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-mux/smpp-mux/mux"
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
	descStoreErr  = prometheus.NewDesc("smppmux_store_errors_total", "Store writes that failed.", nil, nil)
	descUpstream  = prometheus.NewDesc("smppmux_upstream_sessions", "Upstream session slots, by host and state.", []string{"host", "state"}, nil)
	descPending   = prometheus.NewDesc("smppmux_upstream_pending", "Submits waiting for the provider's response, by host.", []string{"host"}, nil)
	descBound     = prometheus.NewDesc("smppmux_downstream_sessions", "Bound client sessions, by client.", []string{"client"}, nil)
	descQueued    = prometheus.NewDesc("smppmux_queue_depth", "Reports and MOs waiting in the store, by client.", []string{"client"}, nil)
	descHeld      = prometheus.NewDesc("smppmux_reports_held", "Receipts held while their message id is unknown.", nil, nil)
	descHeldFull  = prometheus.NewDesc("smppmux_reports_held_full_total", "Receipts refused with ESME_RX_T_APPN because max_held were held.", nil, nil)
	descConns     = prometheus.NewDesc("smppmux_downstream_connections", "Open client connections, by state.", []string{"state"}, nil)
	descDropped   = prometheus.NewDesc("smppmux_deliveries_dropped_total", "deliver_sm dropped by a client's deliver rule.", nil, nil)
	descRefused   = prometheus.NewDesc("smppmux_downstream_refused_total", "Client connections closed at once for a limit.", []string{"limit"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBinds, descSubmits, descAnswers, descNoRoom, descRetries, descReports,
		descOrphaned, descDelivered, descStoreErr, descUpstream, descPending, descBound, descQueued, descHeld,
		descHeldFull, descConns, descRefused, descDropped} {
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
	counter(descStoreErr, n.StoreErrors)
	counter(descHeldFull, n.HeldFull)
	counter(descDropped, n.DeliverDropped)
	ds := c.m.DownstreamStats()
	gauge(descConns, float64(ds.Connections-ds.Unbound), "bound")
	gauge(descConns, float64(ds.Unbound), "unbound")
	counter(descRefused, ds.RefusedTotal, "max_connections")
	counter(descRefused, ds.RefusedPerIP, "max_connections_per_ip")
	counter(descRefused, ds.RefusedUnbound, "max_unbound")
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
}
