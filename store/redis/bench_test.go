package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

// cmdCounter is a go-redis hook that counts the commands the client sends
// and the calls that send them (one round trip each; a cluster pipeline
// is one call that may reach several nodes).
type cmdCounter struct {
	cmds, calls atomic.Int64
}

func (*cmdCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.cmds.Add(1)
		c.calls.Add(1)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.cmds.Add(int64(len(cmds)))
		c.calls.Add(1)
		return next(ctx, cmds)
	}
}

// serverCalls sums the calls of every command in INFO commandstats, over
// every master: what Redis executed, commands run by scripts included.
func serverCalls(tb testing.TB, addrs []string) int64 {
	tb.Helper()
	var total int64
	for _, a := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: a, DisableIdentity: true})
		info, err := c.Info(context.Background(), "commandstats").Result()
		_ = c.Close()
		if err != nil {
			tb.Fatalf("info commandstats: %v", err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			_, rest, ok := strings.Cut(line, ":calls=")
			if !ok || strings.HasPrefix(line, "cmdstat_info:") {
				continue
			}
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			total += n
		}
	}
	return total
}

// BenchmarkReceipts is the receipts path of the mux per message (one op):
// PutIDs of the submit_sm_resp's message id, LookupIDs when its receipt
// arrives, Enqueue of the receipt, Fetch by the client's dispatcher and
// Ack when the client answered, each call batched as the mux batches
// them: batch messages per call of PutIDs, LookupIDs and Enqueue, spread
// over 16 clients, then one Fetch and one Ack per client that got some.
// batch=1 is a mux at low rate (each message alone); larger batches are
// what the mux gathers at 2,000 msg/s while the previous write is in
// flight. It reports the commands the client sent (cmds/msg), its round
// trips (calls/msg) and the commands Redis executed, those of scripts
// included (srvcmds/msg), and the time of a Fetch call (µs/fetch).
func BenchmarkReceipts(b *testing.B) {
	addr, _, _ := redistest.Start(b)
	b.Run("single", func(b *testing.B) { benchReceipts(b, "redis://"+addr+"/0", []string{addr}) })
	cl := redistest.StartCluster(b)
	b.Run("cluster", func(b *testing.B) { benchReceipts(b, "", cl) })
}

func benchReceipts(b *testing.B, url string, nodes []string) {
	for _, batch := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := benchOpen(b, url, nodes)
			var hook cmdCounter
			s.rdb.AddHook(&hook)
			ctx := context.Background()
			const clients = 16
			exp := time.Now().Add(time.Hour)
			recs := make([]store.IDRecord, batch)
			ids := make([]string, batch)
			items := make([]store.Item, batch)
			var fetchTime time.Duration
			var fetches int
			srv0 := serverCalls(b, nodes)
			b.ResetTimer()
			for n := 0; n < b.N; n += batch {
				per := map[string]int{}
				for i := range batch {
					id := fmt.Sprintf("m%d", n+i)
					c := "c" + strconv.Itoa((n+i)%clients)
					recs[i] = store.IDRecord{ID: id, Client: c, Expires: exp}
					ids[i] = id
					items[i] = store.Item{Client: c, Kind: store.KindReport, Frame: storetest.Frame("id:" + id)}
					per[c]++
				}
				if err := s.PutIDs(ctx, recs); err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.LookupIDs(ctx, ids); err != nil {
					b.Fatal(err)
				}
				if err := s.Enqueue(ctx, items); err != nil {
					b.Fatal(err)
				}
				for c := range per {
					t0 := time.Now()
					es, err := s.Fetch(ctx, c, 64, time.Minute)
					fetchTime += time.Since(t0)
					fetches++
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Ack(ctx, c, idsOf(es)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			msgs := float64(b.N)
			b.ReportMetric(float64(hook.cmds.Load())/msgs, "cmds/msg")
			b.ReportMetric(float64(hook.calls.Load())/msgs, "calls/msg")
			b.ReportMetric(float64(serverCalls(b, nodes)-srv0)/msgs, "srvcmds/msg")
			b.ReportMetric(float64(fetchTime.Microseconds())/float64(fetches), "µs/fetch")
		})
	}
}

// benchOpen opens a store with a prefix of its own and no sweep during
// the run, on url or, when url is empty, on the cluster nodes.
func benchOpen(b *testing.B, url string, nodes []string) *Store {
	b.Helper()
	s := &Store{URL: url, Prefix: uniquePrefix(), Limits: store.Limits{Sweep: time.Hour}}
	if url == "" {
		s.Addrs = nodes
	}
	if err := s.open(context.Background(), context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkFleetBucket takes one token per op from a store.Bucket on the
// fleet's bucket of rate per second (burst = rate), two instances (two
// stores) taking turns, as fast as they can: far over the rate. Counted:
// calls/op, the round trips to Redis per Allow; passed/op, the share of
// Allows that got a token.
func BenchmarkFleetBucket(b *testing.B) {
	addr, _, _ := redistest.Start(b)
	for _, rate := range []float64{50, 5000, 1e6} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
			p := uniquePrefix()
			var hook cmdCounter
			var buckets []*store.Bucket
			for range 2 {
				s := open(b, addr, p, store.Limits{})
				s.rdb.AddHook(&hook)
				buckets = append(buckets, store.NewBucket(s, "bench", rate, int(rate), time.Second, nil))
			}
			passed := 0
			i := 0
			b.ResetTimer()
			for b.Loop() {
				if buckets[i%2].Allow() {
					passed++
				}
				i++
			}
			b.ReportMetric(float64(hook.calls.Load())/float64(i), "calls/op")
			b.ReportMetric(float64(passed)/float64(i), "passed/op")
		})
	}
}
