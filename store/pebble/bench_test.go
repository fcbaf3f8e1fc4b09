package pebble

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

// BenchmarkReceiptCycle runs the store's side of the receipts path as the
// mux drives it (storetest.ReceiptCycle), plain and with the trace and
// final_ttl calls, as store/bolt's benchmark of the same name does. It
// reports the CPU time per message (the whole process: pebble's flushes
// and compactions included).
func BenchmarkReceiptCycle(b *testing.B) {
	for _, trace := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "trace"}[trace], func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "db"), store.Limits{Sweep: time.Hour}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			cpu := storetest.CPUTime()
			msgs := storetest.ReceiptCycle(b, s, trace)
			b.ReportMetric(float64(storetest.CPUTime()-cpu)/float64(time.Microsecond)/float64(msgs), "cpu-µs/msg")
		})
	}
}
