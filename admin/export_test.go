package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-mux/smpp-mux/mux"
)

// NewCollector returns the collector /metrics serves for m, so that tests
// can register it with a registry of their own (a pedantic one).
func NewCollector(m *mux.Mux) prometheus.Collector { return &collector{m: m} }
