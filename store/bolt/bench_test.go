package bolt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

// reportFrame is about the size of a deliver_sm carrying a receipt.
var reportFrame = storetest.Frame("id:0123456789abcdef sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:hello world, a report of ordinary size")

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), store.Limits{Sweep: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func itemsPerSecond(b *testing.B, items int) {
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkPutIDs stores message ids in batches from one goroutine, as
// the mux's id batcher does: one op is one batch, one fsync. The ids
// ascend (as the provider's do) or come in random order.
func BenchmarkPutIDs(b *testing.B) {
	for _, order := range []string{"ascending", "random"} {
		for _, n := range []int{1, 64} {
			b.Run(order+"/batch="+strconv.Itoa(n), func(b *testing.B) {
				s := benchStore(b)
				recs := make([]store.IDRecord, n)
				exp := time.Now().Add(72 * time.Hour)
				rnd := rand.New(rand.NewPCG(1, 2))
				m := startMeter(s)
				b.ReportAllocs()
				var next int
				for b.Loop() {
					for i := range recs {
						next++
						id := uint64(next)
						if order == "random" {
							id = rnd.Uint64()
						}
						recs[i] = store.IDRecord{ID: fmt.Sprintf("%016x", id), Client: "shop", Expires: exp}
					}
					if err := s.PutIDs(context.Background(), recs); err != nil {
						b.Fatal(err)
					}
				}
				itemsPerSecond(b, b.N*n)
				m.report(b, b.N*n)
			})
		}
	}
}

// BenchmarkIDsAndReports stores a batch of 64 ids and a batch of 64
// reports per op, as the mux's id and report batchers do at the same
// time: from two goroutines with PutIDs and Enqueue (group commit joins
// them when one arrives while the other commits), or in one
// PutIDsEnqueue. It reports the commits each pair takes.
func BenchmarkIDsAndReports(b *testing.B) {
	const n = 64
	batches := func(next *uint64) ([]store.IDRecord, []store.Item) {
		recs := make([]store.IDRecord, n)
		items := make([]store.Item, n)
		exp := time.Now().Add(72 * time.Hour)
		for i := range recs {
			*next++
			recs[i] = store.IDRecord{ID: strconv.FormatUint(*next, 16), Client: "c" + strconv.Itoa(i%16), Expires: exp}
			items[i] = store.Item{Client: "c" + strconv.Itoa(i%16), Kind: store.KindReport, Frame: reportFrame}
		}
		return recs, items
	}
	b.Run("apart", func(b *testing.B) {
		s := benchStore(b)
		next := uint64(0xc0ffee) << 32
		m := startMeter(s)
		for b.Loop() {
			recs, items := batches(&next)
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := s.PutIDs(context.Background(), recs); err != nil {
					b.Error(err)
				}
			})
			if err := s.Enqueue(context.Background(), items); err != nil {
				b.Fatal(err)
			}
			wg.Wait()
		}
		m.report(b, b.N)
	})
	b.Run("joint", func(b *testing.B) {
		s := benchStore(b)
		next := uint64(0xc0ffee) << 32
		m := startMeter(s)
		for b.Loop() {
			recs, items := batches(&next)
			if idsErr, itemsErr := s.PutIDsEnqueue(context.Background(), recs, items); idsErr != nil || itemsErr != nil {
				b.Fatal(idsErr, itemsErr)
			}
		}
		m.report(b, b.N)
	})
}

// BenchmarkEnqueue compares one goroutine enqueueing single reports (one
// fsync each), 64 goroutines enqueueing single reports (group commit
// shares fsyncs between them) and one goroutine enqueueing batches of 64.
// One op is one Enqueue call.
func BenchmarkEnqueue(b *testing.B) {
	items := func(n int) []store.Item {
		it := make([]store.Item, n)
		for i := range it {
			it[i] = store.Item{Client: "c" + strconv.Itoa(i%4), Kind: store.KindReport, Frame: reportFrame}
		}
		return it
	}
	b.Run("single/goroutines=1", func(b *testing.B) {
		s := benchStore(b)
		one := items(1)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Enqueue(context.Background(), one); err != nil {
				b.Fatal(err)
			}
		}
		itemsPerSecond(b, b.N)
	})
	b.Run("single/goroutines=64", func(b *testing.B) {
		s := benchStore(b)
		b.ReportAllocs()
		b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		var calls atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			one := items(1)
			for pb.Next() {
				calls.Add(1)
				if err := s.Enqueue(context.Background(), one); err != nil {
					b.Error(err)
					return
				}
			}
		})
		itemsPerSecond(b, int(calls.Load()))
	})
	b.Run("batch=64/goroutines=1", func(b *testing.B) {
		s := benchStore(b)
		batch := items(64)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Enqueue(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		itemsPerSecond(b, b.N*64)
	})
}

// BenchmarkFetchAck drains a queue as a dispatcher does: one op fetches
// up to n entries and acks them. The refills of the queue are commits
// too, and the acknowledgements ride along in them (or are committed by
// the store after ackLinger).
func BenchmarkFetchAck(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run("max="+strconv.Itoa(n), func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			fill := make([]store.Item, 1000)
			for i := range fill {
				fill[i] = store.Item{Client: "shop", Kind: store.KindReport, Frame: reportFrame}
			}
			var items int
			m := startMeter(s)
			b.ReportAllocs()
			for b.Loop() {
				es, err := s.Fetch(ctx, "shop", n, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				if len(es) == 0 {
					b.StopTimer()
					if err := s.Enqueue(ctx, fill); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					continue
				}
				ids := make([]string, len(es))
				for i, e := range es {
					ids[i] = e.ID
				}
				if err := s.Ack(ctx, "shop", ids); err != nil {
					b.Fatal(err)
				}
				items += len(es)
			}
			itemsPerSecond(b, items)
			m.report(b, items)
		})
	}
}

// BenchmarkReceiptCycle runs the store's side of the receipts path as the
// mux drives it (storetest.ReceiptCycle), plain and with the trace and
// final_ttl calls. It reports commits and pages written per message.
func BenchmarkReceiptCycle(b *testing.B) {
	for _, trace := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "trace"}[trace], func(b *testing.B) {
			s := benchStore(b)
			m := startMeter(s)
			m.report(b, storetest.ReceiptCycle(b, s, trace))
		})
	}
}

// meter measures what a benchmark's messages cost the store: commits,
// pages written and CPU time (user and system, the whole process).
type meter struct {
	s       *Store
	commits uint64
	pages   int64
	cpu     time.Duration
}

func startMeter(s *Store) meter {
	return meter{s: s, commits: s.batch.commits.Load(), pages: pagesWritten(s), cpu: storetest.CPUTime()}
}

// report reports per message (or id, or item: what msgs counts).
func (m meter) report(b *testing.B, msgs int) {
	commits := float64(m.s.batch.commits.Load() - m.commits)
	pages := float64(pagesWritten(m.s) - m.pages)
	b.ReportMetric(commits/float64(msgs), "commits/msg")
	if commits > 0 {
		b.ReportMetric(pages/commits, "pages/commit")
	}
	b.ReportMetric(pages/float64(msgs), "pages/msg")
	b.ReportMetric(float64(storetest.CPUTime()-m.cpu)/float64(time.Microsecond)/float64(msgs), "cpu-µs/msg")
}

// pagesWritten is how many pages the store's commits wrote, meta pages
// left out.
func pagesWritten(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}
