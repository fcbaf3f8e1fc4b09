package sim_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim"
)

// BenchmarkSubmitWithReceipt pushes b.N submit_sm asking for a receipt
// through one transceiver, 256 in flight, and waits for every
// submit_sm_resp and receipt (each acknowledged).
func BenchmarkSubmitWithReceipt(b *testing.B) {
	b.Run("immediate", func(b *testing.B) {
		benchSubmit(b, sim.Config{})
	})
	b.Run("delayed", func(b *testing.B) {
		benchSubmit(b, sim.Config{RespLatency: time.Millisecond, DLRDelay: time.Millisecond, SendEnroute: true})
	})
}

func benchSubmit(b *testing.B, cfg sim.Config) {
	cfg.Logger, cfg.Record, cfg.Window = zap.NewNop(), -1, 256
	receipts := 1
	if cfg.SendEnroute {
		receipts = 2
	}
	srv := sim.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-served }()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	bw := bufio.NewWriterSize(nc, 64<<10)
	br := bufio.NewReaderSize(nc, 64<<10)
	bind := esme.BindRequest("bench", "pw")
	_, _ = nc.Write(pdu.Append(nil, pdu.CmdBindTransceiver, pdu.StatusOK, 1, bind))
	if f, err := pdu.ReadFrame(br, nil, pdu.DefaultMaxLength); err != nil || pdu.ID(f) != pdu.CmdBindTransceiverResp {
		b.Fatalf("bind: %v", err)
	}
	_ = nc.SetDeadline(time.Now().Add(time.Minute))

	const inFlight = 256
	credits := make(chan struct{}, inFlight)
	acks := make(chan []byte, 1024)
	done := make(chan error, 1)
	go func() { // reader: count responses and receipts, queue acks
		var buf []byte
		resps, dlrs := 0, 0
		for resps < b.N || dlrs < receipts*b.N {
			f, err := pdu.ReadFrame(br, buf, pdu.DefaultMaxLength)
			if err != nil {
				done <- err
				return
			}
			switch pdu.ID(f) {
			case pdu.CmdSubmitSMResp:
				resps++
				credits <- struct{}{}
			case pdu.CmdDeliverSM:
				dlrs++
				acks <- pdu.AppendHeaderOnly(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, pdu.Seq(f))
			}
			buf = f[:0]
		}
		close(acks)
		done <- nil
	}()
	for range inFlight {
		credits <- struct{}{}
	}
	frame := pdu.Append(nil, pdu.CmdSubmitSM, pdu.StatusOK, 0, &pdu.SM{
		DestTON: 1, DestAddr: []byte("4512345678"), SourceAddr: []byte("Bench"),
		RegisteredDelivery: 1, ShortMessage: []byte("benchmark message text"),
	})
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for acks != nil {
		select {
		case a, ok := <-acks:
			if !ok {
				acks = nil
				break
			}
			_, _ = bw.Write(a)
		case <-credits:
			if sent < b.N {
				sent++
				pdu.PatchSeq(frame, uint32(sent+1))
				_, _ = bw.Write(frame)
			}
		}
		if len(acks) == 0 && len(credits) == 0 {
			_ = bw.Flush()
		}
	}
	_ = bw.Flush()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
