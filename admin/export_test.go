package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-mux/smpp-mux/mux"
)

// NewCollector returns the collector of the mux's own metrics, for lint.
func NewCollector(m *mux.Mux) prometheus.Collector { return &collector{m: m} }

// Register registers every collector /metrics serves for m, so that a
// test can gather them through a registry of its own (a pedantic one).
func Register(reg prometheus.Registerer, m *mux.Mux) { register(reg, m, readBuild("")) }

// Quantile is quantile, for its test.
var Quantile = quantile
