package mux_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/internal/redistest"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	_ "github.com/smpp-mux/smpp-mux/store/bolt"
)

// The size of TestRebindRounds; the defaults keep it within CI's time
// under -race. A longer local run: -rebind.rounds=20 -rebind.msgs=2000.
var (
	rebindRounds  = flag.Int("rebind.rounds", 3, "TestRebindRounds: unbind/rebind rounds")
	rebindClients = flag.Int("rebind.clients", 16, "TestRebindRounds: clients, each binding one transceiver per round")
	rebindMsgs    = flag.Int("rebind.msgs", 100, "TestRebindRounds: submits per client per round")
	rebindWait    = flag.Duration("rebind.wait", 5*time.Second, "TestRebindRounds: how long a round waits for a receipt before it counts the missing ones as stalled")
)

// rebindWindow is how many submits, and deliver_sm, each client session
// has in flight.
const rebindWindow = 16

// TestRebindRounds: many clients submit with receipts, receive and
// acknowledge them, unbind at the end of each round and bind again for
// the next. A client that acknowledged a receipt never gets it again
// (dups), and each round's receipts reach their client within the round
// (stalls; server.response_timeout is far longer than the round's wait,
// so a deliver_sm whose answer the mux lost shows up as missing). It
// counts, and does not time: it fails on the counts only.
//
// With "redis", two instances share one Redis: a client binds to one and
// then the other in turn, and the provider spreads the receipts over the
// binds of both, so half of them cross instances.
func TestRebindRounds(t *testing.T) {
	for _, st := range []string{"bolt", "memory", "redis"} {
		for _, hog := range []bool{false, true} {
			name := st
			if hog {
				name += "_cpu_hog"
			}
			t.Run(name, func(t *testing.T) {
				if hog {
					stop := cpuHog()
					defer stop()
				}
				runRebindRounds(t, st)
			})
		}
	}
}

// cpuHog keeps every CPU busy until the returned function is called.
func cpuHog() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for i := 0; i < 1e5; i++ {
					_ = i * i
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// rebindTally is what the clients saw, summed over clients and rounds.
type rebindTally struct {
	mu       sync.Mutex
	submits  int // accepted submit_sm
	receipts int // receipt deliveries, duplicates included
	dups     int // a receipt delivered again after the client acknowledged it
	again    int // a receipt delivered again whose answer the client never wrote
	late     int // a receipt first delivered in a round after its submit's
	missing  int // receipts not delivered by the end of their round
	foreign  int // a receipt for a message the client did not send
}

func runRebindRounds(t *testing.T, storeModule string) {
	storeTOML := fmt.Sprintf("module = %q", storeModule)
	instances := 1
	switch storeModule {
	case "bolt":
		storeTOML += fmt.Sprintf("\npath = %q", filepath.Join(t.TempDir(), "mux.db"))
	case "redis":
		addr, _, _ := redistest.Start(t)
		storeTOML += fmt.Sprintf("\nurl = \"redis://%s/0\"", addr)
		instances = 2
	}
	s := simtest.NewServer(t, simtest.Hosts(2), simtest.Account("acct", "secret"), simtest.Window(rebindWindow))
	var clients strings.Builder
	for i := range *rebindClients {
		fmt.Fprintf(&clients, "[[client]]\nsystem_id = \"c%02d\"\npassword = \"pw\"\n", i)
	}
	src := fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
dlr_grace = "5s"
response_timeout = "5m"
submit_wait = "5s"
window = %d
[store]
%s
[upstream]
system_id = "acct"
password = "secret"
sessions_per_host = 2
reconnect_delay = "1s"
response_timeout = "10s"
[[upstream.host]]
address = %q
[[upstream.host]]
address = %q
%s`, rebindWindow, storeTOML+"\njournal = %q", s.Addrs()[0], s.Addrs()[1], clients.String())
	var addrs []string
	var m *mux.Mux // the first instance, for the logs
	for i := range instances {
		mi := startMux(t, fmt.Sprintf(src, filepath.Join(t.TempDir(), "ids.journal"))) // logs at Warn: a line per PDU would be most of the test's work
		eventually.That(t, 5*time.Second, "mi.UpstreamBound() == 4", func() bool { return mi.UpstreamBound() == 4 })
		addrs = append(addrs, mi.Addrs()[0].String())
		if i == 0 {
			m = mi
		}
	}

	ledgers := make([]*rebindLedger, *rebindClients)
	for i := range ledgers {
		ledgers[i] = &rebindLedger{id: fmt.Sprintf("c%02d", i), sent: map[string]int{}, got: map[string]int{}, acked: map[string]bool{}}
	}
	var tally rebindTally
	start := time.Now()
	for round := range *rebindRounds {
		var wg sync.WaitGroup
		for i, l := range ledgers {
			wg.Go(func() {
				missing, err := l.run(addrs[(i+round)%len(addrs)], round, *rebindMsgs, *rebindWait, &tally)
				if missing > 0 {
					// Where they are: still with the provider, or in the
					// mux's queue for the client.
					t.Logf("%s round %d: %d receipts missing; %d queued in the mux for it, %d waiting in the provider for all", l.id, round, missing, m.Queued(l.id), s.Stats().Pending)
				}
				if err != nil {
					t.Errorf("%s round %d: %v", l.id, round, err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	for _, l := range ledgers {
		l.settle(&tally)
	}
	t.Logf("%s: %d rounds × %d clients × %d submits in %v: %d submits, %d receipt deliveries, %d dups, %d again unanswered, %d late, %d missing at round end, %d foreign",
		storeModule, *rebindRounds, *rebindClients, *rebindMsgs, time.Since(start).Round(time.Millisecond),
		tally.submits, tally.receipts, tally.dups, tally.again, tally.late, tally.missing, tally.foreign)
	if tally.dups != 0 || tally.missing != 0 || tally.late != 0 || tally.foreign != 0 {
		t.Errorf("dups %d, late %d, missing at round end %d, foreign %d: want 0 each", tally.dups, tally.late, tally.missing, tally.foreign)
	}
}

// rebindLedger is one client's record over all rounds.
type rebindLedger struct {
	id string

	mu    sync.Mutex      // guards the fields below
	round int             // the round running
	sent  map[string]int  // message id -> round of its submit
	got   map[string]int  // message id -> round its receipt was first delivered in
	acked map[string]bool // message ids whose receipt's deliver_sm_resp was written
}

// run binds, submits n messages with receipts (window rebindWindow),
// waits for their receipts while it acknowledges every deliver_sm (the
// answers to one read's frames together, as a client that batches its
// writes does: an unbind may go out between a deliver_sm and its
// answer), then unbinds and closes.
func (l *rebindLedger) run(addr string, round, n int, wait time.Duration, tally *rebindTally) (missing int, err error) {
	l.mu.Lock()
	l.round = round
	l.mu.Unlock()
	c, err := esme.Dial(addr, l.id, "pw", esme.Options{
		Timeout:   time.Minute,
		Buffer:    -1,
		BatchAcks: true,
		Ack: func(f []byte) pdu.Status {
			if id, ok := rebindReceiptID(f); ok {
				l.delivered(id, tally)
			}
			return pdu.StatusOK
		},
		Acked: func(f []byte, _ pdu.Status) {
			if id, ok := rebindReceiptID(f); ok {
				l.ackWritten(id)
			}
		},
	})
	if err != nil {
		return 0, fmt.Errorf("bind: %w", err)
	}
	defer c.Drop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.submit(ctx, c, round, n); err != nil {
		return 0, err
	}
	tally.mu.Lock()
	tally.submits += n
	tally.mu.Unlock()

	// Wait for the round's receipts while receipts keep coming to any
	// client (a loaded machine is slow, not wrong: the provider sends
	// the receipts of all clients in one queue), then count those still
	// missing. Receipts still missing once no client has had one for
	// wait are stalled: server.response_timeout is far longer. Not
	// eventually.That: the wait's deadline moves with the receipts, and
	// what is missing at its end is counted, not failed on here.
	last, since := -1, time.Now()
	missing = l.missing(round)
	for missing > 0 && time.Since(since) < wait {
		time.Sleep(10 * time.Millisecond)
		missing = l.missing(round)
		tally.mu.Lock()
		n := tally.receipts
		tally.mu.Unlock()
		if n != last {
			last, since = n, time.Now()
		}
	}
	tally.mu.Lock()
	tally.missing += missing
	tally.mu.Unlock()

	// Unbind; answers the reader has not written yet may follow it.
	uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ucancel()
	if _, err := c.Request(uctx, pdu.CmdUnbind, nil); err != nil {
		return missing, fmt.Errorf("unbind: %w", err)
	}
	return missing, nil
}

// submit sends n submit_sm asking for receipts, rebindWindow at a time,
// and records their message ids.
func (l *rebindLedger) submit(ctx context.Context, c *esme.Client, round, n int) error {
	sem := make(chan struct{}, rebindWindow)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			st, id, err := c.Submit(ctx, sm("4599999999", true, fmt.Sprintf("%s r%d m%d", l.id, round, i)))
			switch {
			case err != nil:
			case st != pdu.StatusOK || id == "":
				err = fmt.Errorf("submit_sm_resp status %v", st)
			default:
				l.mu.Lock()
				l.sent[id] = round
				l.mu.Unlock()
			}
			if err != nil {
				select {
				case errc <- fmt.Errorf("submit: %w", err):
				default:
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// missing counts the receipts of round's submits not delivered yet.
func (l *rebindLedger) missing(round int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, r := range l.sent {
		if _, ok := l.got[id]; r == round && !ok {
			n++
		}
	}
	return n
}

// delivered records a receipt. One delivered again after its
// deliver_sm_resp was written is a dup; one delivered again whose answer
// was never written (the connection ended first) may be, and is counted
// apart.
func (l *rebindLedger) delivered(id string, tally *rebindTally) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tally.mu.Lock()
	defer tally.mu.Unlock()
	tally.receipts++
	if l.acked[id] {
		tally.dups++
		return
	}
	if _, ok := l.got[id]; ok {
		tally.again++
		return
	}
	l.got[id] = l.round
}

// ackWritten records that the answer to the receipt of id is written.
func (l *rebindLedger) ackWritten(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[id] = true
}

// settle counts, once every round has run, the receipts first delivered
// in a later round than their submit's, and those of messages the client
// did not send.
func (l *rebindLedger) settle(tally *rebindTally) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tally.mu.Lock()
	defer tally.mu.Unlock()
	for id, got := range l.got {
		sent, ok := l.sent[id]
		switch {
		case !ok:
			tally.foreign++
		case got > sent:
			tally.late++
		}
	}
}

// rebindReceiptID returns the message id of a final receipt.
func rebindReceiptID(f []byte) (string, bool) {
	text, _, _, _ := pdu.PeekText(f)
	if !strings.Contains(string(text), "stat:DELIVRD") {
		return "", false
	}
	if id, ok := pdu.PeekReceiptedMessageID(f); ok && len(id) > 0 {
		return string(id), true
	}
	id, ok := pdu.ReceiptID(text)
	return string(id), ok
}
