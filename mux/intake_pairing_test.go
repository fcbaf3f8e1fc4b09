package mux

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/store"
)

// jointLog is a store.JointWriter that records its calls; a call waits
// while hold is set and not closed.
type jointLog struct {
	mu       sync.Mutex
	calls    [][2]int // ids and items of each call
	idsErr   error
	itemsErr error
	hold     chan struct{}
	inCall   int
}

func (j *jointLog) PutIDsEnqueue(_ context.Context, recs []store.IDRecord, items []store.Item) (error, error) {
	j.mu.Lock()
	j.calls = append(j.calls, [2]int{len(recs), len(items)})
	j.inCall++
	hold := j.hold
	j.mu.Unlock()
	if hold != nil {
		<-hold
	}
	j.mu.Lock()
	j.inCall--
	j.mu.Unlock()
	return j.idsErr, j.itemsErr
}

func (j *jointLog) log() [][2]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([][2]int(nil), j.calls...)
}

func (p *pairing) isWaiting(kind int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting[kind] != nil
}

var (
	someIDs   = []store.IDRecord{{ID: "1", Client: "c"}}
	someItems = []store.Item{{Client: "c"}, {Client: "c"}}
)

// writeAsync runs begin, write and end for one batch in a goroutine.
func writeAsync(p *pairing, jw store.JointWriter, kind int, more bool) (*pairedWrite, chan struct{}) {
	w := &pairedWrite{recs: someIDs}
	if kind == pairReports {
		w = &pairedWrite{items: someItems}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.begin(kind)
		p.write(context.Background(), jw, kind, w)
		p.end(kind, more)
	}()
	return w, done
}

func TestPairingAloneWhenOtherIdle(t *testing.T) {
	var p pairing
	jw := &jointLog{}
	_, done := writeAsync(&p, jw, pairIDs, false)
	<-done
	if got := jw.log(); len(got) != 1 || got[0] != [2]int{1, 0} {
		t.Fatalf("calls %v, want one of the ids alone", got)
	}
}

func TestPairingWaitsForBatchBeingPrepared(t *testing.T) {
	var p pairing
	jw := &jointLog{idsErr: errors.New("ids failed")}
	p.begin(pairReports) // the report batcher is preparing a batch
	ids, idsDone := writeAsync(&p, jw, pairIDs, false)
	eventually.That(t, 10*time.Second, "ids wait for the reports", func() bool { return p.isWaiting(pairIDs) })
	if got := jw.log(); len(got) != 0 {
		t.Fatalf("calls %v while the reports are prepared, want none", got)
	}
	reports := &pairedWrite{items: someItems}
	p.write(context.Background(), jw, pairReports, reports)
	p.end(pairReports, false)
	<-idsDone
	if got := jw.log(); len(got) != 1 || got[0] != [2]int{1, 2} {
		t.Fatalf("calls %v, want one with both", got)
	}
	if ids.idsErr == nil || reports.idsErr == nil || ids.itemsErr != nil || reports.itemsErr != nil {
		t.Errorf("results ids %v/%v reports %v/%v; want the ids' error on both sides, no items error", ids.idsErr, ids.itemsErr, reports.idsErr, reports.itemsErr)
	}
}

func TestPairingGoesAloneWhenOtherWritesNothing(t *testing.T) {
	var p pairing
	jw := &jointLog{}
	p.begin(pairReports)
	_, idsDone := writeAsync(&p, jw, pairIDs, false)
	eventually.That(t, 10*time.Second, "ids wait for the reports", func() bool { return p.isWaiting(pairIDs) })
	p.end(pairReports, false) // all held or resent: nothing to write, nothing queued
	<-idsDone
	if got := jw.log(); len(got) != 1 || got[0] != [2]int{1, 0} {
		t.Fatalf("calls %v, want one of the ids alone", got)
	}
}

func TestPairingWaitsForNextBatchWhenQueued(t *testing.T) {
	var p pairing
	jw := &jointLog{}
	ctx := context.Background()
	p.begin(pairReports)
	p.write(ctx, jw, pairReports, &pairedWrite{items: someItems}) // alone: the id batcher is idle
	// The reports are answered, more are queued; ids come meanwhile.
	_, idsDone := writeAsync(&p, jw, pairIDs, false)
	eventually.That(t, 10*time.Second, "ids wait for the reports", func() bool { return p.isWaiting(pairIDs) })
	p.end(pairReports, true)
	if !p.isWaiting(pairIDs) {
		t.Fatal("ids stopped waiting though the next report batch comes at once")
	}
	_, repDone := writeAsync(&p, jw, pairReports, false)
	<-idsDone
	<-repDone
	if got := jw.log(); len(got) != 2 || got[1] != [2]int{1, 2} {
		t.Fatalf("calls %v, want the reports alone, then one with both", got)
	}
}

// A batch that wrote nothing does not keep the other kind waiting for
// the next, even with more queued: batches that write nothing could
// follow one another for long.
func TestPairingWaitsNoLongerAfterBatchWithoutWrite(t *testing.T) {
	var p pairing
	jw := &jointLog{}
	p.begin(pairReports)
	_, idsDone := writeAsync(&p, jw, pairIDs, false)
	eventually.That(t, 10*time.Second, "ids wait for the reports", func() bool { return p.isWaiting(pairIDs) })
	p.end(pairReports, true) // all held: nothing written; more queued
	<-idsDone
	if got := jw.log(); len(got) != 1 || got[0] != [2]int{1, 0} {
		t.Fatalf("calls %v, want one of the ids alone", got)
	}
}

// While the reports are in their own store write, ids do not wait for
// them: they could not join it.
func TestPairingDoesNotWaitForWriteInProgress(t *testing.T) {
	var p pairing
	hold := make(chan struct{})
	jw := &jointLog{hold: hold}
	_, repDone := writeAsync(&p, jw, pairReports, false)
	eventually.That(t, 10*time.Second, "reports in their write", func() bool {
		jw.mu.Lock()
		defer jw.mu.Unlock()
		return jw.inCall == 1
	})
	_, idsDone := writeAsync(&p, jw, pairIDs, false)
	eventually.That(t, 10*time.Second, "ids in their write too", func() bool {
		jw.mu.Lock()
		defer jw.mu.Unlock()
		return jw.inCall == 2
	})
	close(hold)
	<-repDone
	<-idsDone
	if got := jw.log(); len(got) != 2 {
		t.Fatalf("calls %v, want two apart", got)
	}
}

// TestBatcherLingering: a lingering batcher gathers items that come one
// by one into one batch, up to max, and runs what it holds when its
// context ends, without waiting out the linger.
func TestBatcherLingering(t *testing.T) {
	var mu sync.Mutex
	var got [][]int
	b := newBatcher(16, 3, func(batch []int) {
		mu.Lock()
		got = append(got, append([]int(nil), batch...))
		mu.Unlock()
	}).lingering(time.Hour)
	batches := func() [][]int {
		mu.Lock()
		defer mu.Unlock()
		return append([][]int(nil), got...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	for i := range 4 {
		b.add(i)
		runtime.Gosched() // let run take each item alone
	}
	eventually.That(t, 5*time.Second, "a full batch", func() bool { return len(batches()) == 1 })
	cancel()
	<-done
	if g := batches(); len(g) != 2 || len(g[0]) != 3 || len(g[1]) != 1 || g[1][0] != 3 {
		t.Fatalf("batches %v, want [0 1 2] then [3]", g)
	}
}
