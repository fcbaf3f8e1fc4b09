package external

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// benchPlugin starts the premium-class example as a real process with a
// silent logger.
func benchPlugin(b *testing.B) *Plugin {
	b.Helper()
	bin := buildExample(b, b.TempDir())
	p := &Plugin{Command: []string{bin}, Timeout: module.Duration(2 * time.Second)}
	ctx, cancel := module.NewContext(context.Background(), zap.NewNop())
	b.Cleanup(func() {
		cancel()
		_ = ctx.Cleanup()
	})
	if err := ctx.LoadModule("rule.plugin", p); err != nil {
		b.Fatal(err)
	}
	return p
}

// benchSubmit runs b.N Submits spread over workers goroutines, each
// reusing one decoded message as a session does, and reports messages per
// second and the mean batch size.
func benchSubmit(b *testing.B, workers int) {
	p := benchPlugin(b)
	frame := pdu.Append(nil, pdu.CmdSubmitSM, 0, 1, &testMessage("4512345678", "hello, world").SM)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		n := b.N / workers
		if w < b.N%workers {
			n++
		}
		wg.Go(func() {
			var m module.Message
			for range n {
				m = module.Message{Client: "shop"}
				if err := m.SM.Decode(frame[pdu.HeaderLen:]); err != nil {
					b.Error(err)
					return
				}
				if err := p.Submit(&m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if n := p.Batches(); n > 0 {
		b.ReportMetric(float64(p.Calls())/float64(n), "msgs/batch")
	}
}

// BenchmarkSubmitSerial is one external call per message: one goroutine,
// so every batch holds one message and each Submit waits a round trip.
func BenchmarkSubmitSerial(b *testing.B) { benchSubmit(b, 1) }

// BenchmarkSubmit16 is 16 sessions submitting at once; their messages
// are batched and pipelined onto the one plugin.
func BenchmarkSubmit16(b *testing.B) { benchSubmit(b, 16) }
