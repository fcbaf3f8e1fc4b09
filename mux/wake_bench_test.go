package mux_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
)

// BenchmarkReceiptLatency measures, for b.N messages sent at 60 a second,
// the time from a submit_sm to its DELIVRD receipt at the client, with
// two mux instances on one Redis and one provider account. Instance A
// holds the account's receiving binds (transceivers); instance B only
// transmitters, so every receipt reaches A and is stored by A. The
// client binds to A (same-instance: A stores and delivers) or to B
// (cross-instance: A stores, B delivers, woken by the store or by its
// one-second poll). Run with -benchtime 600x (10 s per case); it reports
// p50-ms and p99-ms, never asserts them. It needs redis-server.
func BenchmarkReceiptLatency(b *testing.B) {
	for _, tc := range []struct {
		name  string
		onB   bool
		rateS float64
	}{
		{"same-instance", false, 60},
		{"cross-instance", true, 60},
	} {
		b.Run(tc.name, func(b *testing.B) {
			addr, _, _ := redistest.Start(b)
			s := simtest.NewServer(b, simtest.Hosts(2), simtest.Account("acct", "secret"))
			storeTOML := fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\nprefix = \"lat\"", addr)
			a := benchMux(b, s, storeTOML, "transceiver")
			bm := benchMux(b, s, storeTOML, "transmitter")
			deadline := time.Now().Add(10 * time.Second)
			for (a.UpstreamBound() < 4 || bm.UpstreamBound() < 4) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			target := a
			if tc.onB {
				target = bm
			}
			c, err := esme.Dial(target.Addrs()[0].String(), "shop", "shop-pw", esme.Options{Buffer: 4096})
			if err != nil {
				b.Fatalf("bind: %v", err)
			}
			defer c.Close()
			var mu sync.Mutex
			sent, arrived := map[string]time.Time{}, map[string]time.Time{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					mu.Lock()
					n := len(arrived)
					mu.Unlock()
					if n >= b.N {
						return
					}
					select {
					case f := <-c.Deliveries:
						text, _, _, _ := pdu.PeekText(f)
						if !strings.Contains(string(text), "stat:DELIVRD") {
							continue
						}
						id, _ := pdu.ReceiptID(text)
						mu.Lock()
						arrived[string(id)] = time.Now()
						mu.Unlock()
					case <-time.After(20 * time.Second):
						return
					}
				}
			}()
			tick := time.NewTicker(time.Duration(float64(time.Second) / tc.rateS))
			defer tick.Stop()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				<-tick.C
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				st, id, err := c.Submit(ctx, sm("4599999999", true, "latency"))
				cancel()
				if err != nil || st != pdu.StatusOK {
					b.Fatalf("submit %d: %v %v", i, st, err)
				}
				mu.Lock()
				sent[id] = t0
				mu.Unlock()
			}
			<-done
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			var lat []time.Duration
			for id, t0 := range sent {
				if at, ok := arrived[id]; ok {
					lat = append(lat, at.Sub(t0))
				}
			}
			if len(lat) < b.N {
				b.Fatalf("%d receipts of %d", len(lat), b.N)
			}
			slices.Sort(lat)
			ms := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchMux starts a mux on s's hosts with its upstream binds of kind bind.
func benchMux(b *testing.B, s *simtest.Server, storeTOML, bind string) *mux.Mux {
	b.Helper()
	src := fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
mo_default = "shop"
[store]
%s
[upstream]
system_id = "acct"
password = "secret"
bind = %q
sessions_per_host = 2
reconnect_delay = "1s"
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
%s`, storeTOML, bind, s.Addrs()[0], s.Addrs()[1], clientsTOML)
	cfg, err := mux.Parse([]byte(src))
	if err != nil {
		b.Fatalf("config: %v", err)
	}
	m, err := mux.New(cfg, zap.NewNop())
	if err != nil {
		b.Fatalf("mux.New: %v", err)
	}
	if err := m.Start(); err != nil {
		b.Fatalf("Start: %v", err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return m
}

// BenchmarkIDMemory measures what message ids cost Redis: b.N messages
// with receipts (DELIVRD, a final state) through one mux on store.redis,
// then, once every receipt reached the client and final_ttl has passed,
// the ids left and Redis's used_memory over what it was before the run.
// final_ttl=off keeps every id for dlr_ttl (72h), as before final_ttl
// existed; final_ttl=1s lets ids go a second after their final receipt.
// The reports' resend guards (seen keys, 30 minutes) stay in both.
// Run with -benchtime 20000x.
func BenchmarkIDMemory(b *testing.B) {
	for _, tc := range []struct{ name, finalTTL string }{
		{"final_ttl=off", "72h"},
		{"final_ttl=1s", "1s"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			addr, _, _ := redistest.Start(b)
			rdb := goredis.NewClient(&goredis.Options{Addr: addr})
			defer rdb.Close()
			s := simtest.NewServer(b, simtest.Hosts(2), simtest.Account("acct", "secret"))
			m := benchMux(b, s, fmt.Sprintf("module = \"redis\"\nurl = \"redis://%s/0\"\nprefix = \"mem\"\ndlr_ttl = \"72h\"\nfinal_ttl = %q", addr, tc.finalTTL), "transceiver")
			for deadline := time.Now().Add(10 * time.Second); m.UpstreamBound() < 4 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			c, err := esme.Dial(m.Addrs()[0].String(), "shop", "shop-pw", esme.Options{Buffer: 1 << 16})
			if err != nil {
				b.Fatalf("bind: %v", err)
			}
			defer c.Close()
			ctx := context.Background()
			before := usedMemory(b, rdb)
			b.ResetTimer()
			var wg sync.WaitGroup
			const workers = 16
			for w := range workers {
				wg.Go(func() {
					for i := w; i < b.N; i += workers {
						st, _, err := c.Submit(ctx, sm("4599999999", true, "memory"))
						if err != nil || st != pdu.StatusOK {
							b.Errorf("submit: %v %v", st, err)
							return
						}
					}
				})
			}
			got := 0
			for timeout := time.After(time.Minute); got < b.N; {
				select {
				case f := <-c.Deliveries:
					if text, _, _, _ := pdu.PeekText(f); strings.Contains(string(text), "stat:DELIVRD") {
						got++
					}
				case <-timeout:
					b.Fatalf("%d receipts of %d", got, b.N)
				}
			}
			wg.Wait()
			b.StopTimer()
			// Past final_ttl, and until Redis's active expiry is done.
			time.Sleep(2 * time.Second)
			ids, last := 0, -1
			for deadline := time.Now().Add(30 * time.Second); ids != last && time.Now().Before(deadline); {
				last, ids = ids, countKeys(b, rdb, "mem:id:*")
				time.Sleep(500 * time.Millisecond)
			}
			after := usedMemory(b, rdb)
			b.ReportMetric(float64(ids), "ids-left")
			b.ReportMetric(float64(countKeys(b, rdb, "mem:seen:*")), "seen-left") // resend guards, 30 min
			b.ReportMetric(float64(after-before)/float64(b.N), "B/msg")
			b.ReportMetric(float64(after-before)/(1<<20), "MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func usedMemory(b *testing.B, rdb *goredis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}

func countKeys(b *testing.B, rdb *goredis.Client, match string) int {
	b.Helper()
	n := 0
	iter := rdb.Scan(context.Background(), 0, match, 1000).Iterator()
	for iter.Next(context.Background()) {
		n++
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
