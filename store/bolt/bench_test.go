package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
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
// the mux's id batcher does: one op is one batch, one fsync.
func BenchmarkPutIDs(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) {
			s := benchStore(b)
			recs := make([]store.IDRecord, n)
			exp := time.Now().Add(72 * time.Hour)
			b.ReportAllocs()
			var next int
			for b.Loop() {
				for i := range recs {
					next++
					recs[i] = store.IDRecord{ID: fmt.Sprintf("%016x", next), Client: "shop", Expires: exp}
				}
				if err := s.PutIDs(context.Background(), recs); err != nil {
					b.Fatal(err)
				}
			}
			itemsPerSecond(b, b.N*n)
		})
	}
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
// up to 64 entries and acks them (one fsync).
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
		})
	}
}
