package mux_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/sim/simtest"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/memory"
)

// journalLines returns the id lines of the journal at path.
func journalLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for l := range strings.Lines(string(b)) {
		if !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

func shutdown(t *testing.T, m *mux.Mux) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// Message ids the store cannot write are journaled: they survive a
// restart while the store still fails (their receipts reach the client,
// not the orphan queue), and are written to the store once it heals,
// after which the journal is gone. Before, they were kept in memory only
// and lost at the restart.
func TestJournaledIDsSurviveRestart(t *testing.T) {
	brokenIDs.Store(true)
	defer brokenIDs.Store(false)
	journal := filepath.Join(t.TempDir(), "ids.journal")
	conf := harnessConf{store: fmt.Sprintf("module = \"failing_test\"\njournal = %q", journal)}
	h1 := newHarnessConf(t, conf, simtest.DLRDelay(time.Hour))
	c := h1.dial("shop", "shop-pw", esme.Options{})
	const n = 5
	var ids []string
	for i := range n {
		st, id, err := c.Submit(ctxT(t), sm("4599999999", true, fmt.Sprint(i)))
		if err != nil || st != pdu.StatusOK {
			t.Fatalf("submit while the store fails: %v %v", st, err)
		}
		ids = append(ids, id)
	}
	if got := journalLines(t, journal); got != n {
		t.Fatalf("journal holds %d ids, want %d", got, n)
	}
	c.Close()
	shutdown(t, h1.mux) // its last write-back fails: the journal stays
	if got := journalLines(t, journal); got != n {
		t.Fatalf("after shutdown the journal holds %d ids, want %d", got, n)
	}

	// A new process on the same journal, with an empty store that still
	// fails to take ids.
	h2 := newHarnessConf(t, conf, simtest.DLRDelay(time.Hour))
	st := lastFailing.Load()
	if got := h2.mux.Status().PendingIDs; got != n {
		t.Fatalf("pending ids after restart: %d, want %d", got, n)
	}
	c2 := h2.dial("shop", "shop-pw", esme.Options{})
	for _, id := range ids[:2] {
		if err := h2.sim.InjectReceipt("acct", id); err != nil {
			t.Fatal(err)
		}
	}
	collect(t, c2, 2, 10*time.Second)
	if m := h2.mux.Metrics().Snapshot(); m.MatchedLate != 0 || h2.mux.Queued(mux.OrphanQueue) != 0 {
		t.Fatalf("receipts went through the orphan queue (matched late %d)", m.MatchedLate)
	}

	brokenIDs.Store(false) // the store heals
	eventually.That(t, 15*time.Second, "h2.mux.Metrics().Snapshot().IDsWrittenBack == n", func() bool { return h2.mux.Metrics().Snapshot().IDsWrittenBack == n })
	for _, id := range ids {
		if client, ok, err := st.LookupID(context.Background(), mux.IDKey(id)); err != nil || !ok || client != "shop" {
			t.Fatalf("store lookup %s: %q %v %v", id, client, ok, err)
		}
	}
	eventually.That(t, 5*time.Second, "journalLines(t, journal) == 0", func() bool { return journalLines(t, journal) == 0 })
	if _, err := os.Stat(journal); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal still there: %v", err)
	}
	if got := h2.mux.Status().PendingIDs; got != 0 {
		t.Errorf("pending ids: %d, want 0", got)
	}
	for _, id := range ids[2:] {
		if err := h2.sim.InjectReceipt("acct", id); err != nil {
			t.Fatal(err)
		}
	}
	collect(t, c2, n-2, 10*time.Second)
}

// With two instances sharing a store: an id the store failed to take on
// instance a, whose receipt arrives at instance b while a is down (so it
// waits in the orphan queue, unknown to everyone), is written back when a
// starts again, and the receipt is matched and reaches the client. Before,
// the id was lost with a's memory and the receipt stayed orphaned.
func TestOrphanMatchedAfterWriteBack(t *testing.T) {
	failingShared.Store(memory.New(store.Limits{}))
	defer failingShared.Store(nil)
	brokenIDs.Store(true)
	defer brokenIDs.Store(false)
	journal := filepath.Join(t.TempDir(), "a.journal")
	confA := harnessConf{store: fmt.Sprintf("module = \"failing_test\"\njournal = %q", journal), server: `dlr_grace = "100ms"`}
	a := newHarnessConf(t, confA, simtest.DLRDelay(time.Hour))
	c := a.dial("shop", "shop-pw", esme.Options{})
	st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "shared"))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	c.Close()
	shutdown(t, a.mux)

	b := newHarnessConf(t, harnessConf{store: `module = "failing_test"`, server: `dlr_grace = "100ms"`, upstream: `response_timeout = "100ms"`},
		simtest.DLRDelay(time.Hour), simtestDeliverTimeout(time.Minute))
	cb := b.dial("shop", "shop-pw", esme.Options{})
	if err := b.sim.InjectReceipt("acct", id); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "b.mux.Metrics().Snapshot().Orphaned == 1", func() bool { return b.mux.Metrics().Snapshot().Orphaned == 1 })
	brokenIDs.Store(false) // the store heals while a is down: nobody knows the id yet
	if got := b.mux.Queued(mux.OrphanQueue); got != 1 {
		t.Fatalf("orphan queue: %d, want 1", got)
	}

	a2 := newHarnessConf(t, confA, simtest.DLRDelay(time.Hour))
	if got := collect(t, cb, 1, 20*time.Second); got[0] != id {
		t.Fatalf("receipt for %s, want %s", got[0], id)
	}
	if got := a2.mux.Metrics().Snapshot().IDsWrittenBack; got != 1 {
		t.Errorf("written back: %d, want 1", got)
	}
	eventually.That(t, 5*time.Second, "b.mux.Queued(mux.OrphanQueue) == 0", func() bool { return b.mux.Queued(mux.OrphanQueue) == 0 })
}

// A journal another process holds stops New with an error that says so,
// rather than two processes dropping each other's ids.
func TestJournalInUseRefusedAtStart(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "ids.journal")
	if err := os.WriteFile(journal, []byte("# smpp-mux message-id journal v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(journal+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Skip("no flock:", err)
	}
	cfg, err := mux.Parse(fmt.Appendf(nil, "[store]\nmodule = \"memory\"\njournal = %q\n[upstream]\nsystem_id = \"a\"\n[[upstream.host]]\naddress = \"127.0.0.1:1\"\n", journal))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mux.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("New: %v, want the journal in use", err)
	}
}

// When the journal cannot be written either (here its directory is
// missing; in life the same full disk), submits are still answered, the
// ids are kept in memory and counted, and their receipts still route.
func TestJournalUnwritableKeepsIDsInMemory(t *testing.T) {
	brokenIDs.Store(true)
	defer brokenIDs.Store(false)
	journal := filepath.Join(t.TempDir(), "missing", "ids.journal")
	h := newHarnessConf(t, harnessConf{store: fmt.Sprintf("module = \"failing_test\"\njournal = %q", journal)}, simtest.DLRDelay(time.Hour))
	c := h.dial("shop", "shop-pw", esme.Options{})
	st, id, err := c.Submit(ctxT(t), sm("4599999999", true, "no journal"))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	if m := h.mux.Metrics().Snapshot(); m.IDsUnjournaled != 1 {
		t.Fatalf("unjournaled ids: %d, want 1", m.IDsUnjournaled)
	}
	if err := h.sim.InjectReceipt("acct", id); err != nil {
		t.Fatal(err)
	}
	collect(t, c, 1, 10*time.Second)
	brokenIDs.Store(false)
	eventually.That(t, 15*time.Second, "h.mux.Metrics().Snapshot().IDsWrittenBack == 1", func() bool { return h.mux.Metrics().Snapshot().IDsWrittenBack == 1 })
	if client, ok, err := lastFailing.Load().LookupID(context.Background(), mux.IDKey(id)); err != nil || !ok || client != "shop" {
		t.Fatalf("store lookup: %q %v %v", client, ok, err)
	}
}
