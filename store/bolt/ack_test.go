package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/store"
	"github.com/smpp-mux/smpp-mux/store/storetest"
)

// inFile reports whether client's queue in the file (as committed) holds
// the entry with id.
func inFile(t *testing.T, s *Store, client, id string) bool {
	t.Helper()
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketQueues).Bucket([]byte(client)); b != nil {
			found = b.Get(seqKeyOf(t, id)) != nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func seqKeyOf(t *testing.T, id string) []byte {
	var k [8]byte
	seq := seqOf(t, id)
	for i := 7; i >= 0; i-- {
		k[i] = byte(seq)
		seq >>= 8
	}
	return k[:]
}

// An Ack returns before its delete is committed; the delete rides along
// in the next commit of other writes, with no commit of its own, and the
// entry is never fetched again meanwhile.
func TestAckRidesAlong(t *testing.T) {
	ctx := context.Background()
	s := openHeld(t)
	defer s.Close()
	storetestEnqueue(t, s, "shop", "a1", "a2", "a3")
	es, err := s.Fetch(ctx, "shop", 3, time.Hour)
	if err != nil || len(es) != 3 {
		t.Fatalf("Fetch = %d, %v", len(es), err)
	}
	if err := s.Release(ctx, "shop", []string{es[1].ID, es[2].ID}); err != nil {
		t.Fatal(err)
	}
	commits := s.batch.commits.Load()
	if err := s.Ack(ctx, "shop", []string{es[0].ID}); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if n := s.batch.commits.Load() - commits; n != 0 || !inFile(t, s, "shop", es[0].ID) {
		t.Fatalf("Ack committed (%d commits) before any other write", n)
	}
	got, err := s.Fetch(ctx, "shop", 10, time.Hour)
	if err != nil || len(got) != 2 || got[0].ID != es[1].ID {
		t.Fatalf("Fetch after Ack = %v, %v; want the two other entries", ids(got), err)
	}
	if err := s.PutIDs(ctx, []store.IDRecord{{ID: "m1", Client: "shop", Expires: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if n := s.batch.commits.Load() - commits; n != 1 {
		t.Errorf("%d commits for one Ack and one PutIDs, want 1", n)
	}
	if inFile(t, s, "shop", es[0].ID) {
		t.Error("acknowledged entry still in the file after the next commit")
	}
	if !inFile(t, s, "shop", es[1].ID) {
		t.Error("entry that was not acknowledged gone from the file")
	}
	s.mu.Lock()
	n := len(s.leases["shop"])
	s.mu.Unlock()
	if n != 2 {
		t.Errorf("%d leases held, want the two of the fetched entries (acking mark dropped)", n)
	}
	// Nothing queued: no commit for nothing.
	s.flushAcks()
	if n := s.batch.commits.Load() - commits; n != 1 {
		t.Errorf("%d commits after a flush with nothing queued, want still 1", n)
	}
}

// With nothing else to commit, the store commits acknowledgements itself.
func TestAckCommittedAlone(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "s.db"), store.Limits{Sweep: time.Hour})
	defer s.Close()
	storetestEnqueue(t, s, "shop", "a1")
	es, err := s.Fetch(ctx, "shop", 1, time.Hour)
	if err != nil || len(es) != 1 {
		t.Fatalf("Fetch = %d, %v", len(es), err)
	}
	if err := s.Ack(ctx, "shop", ids(es)); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "acknowledgement never committed", func() bool {
		return !inFile(t, s, "shop", es[0].ID)
	})
	if q := stats(t, s).Queued["shop"]; q != 0 {
		t.Errorf("Queued = %d after the ack", q)
	}
}

// Close commits the acknowledgements still queued.
func TestAckCommittedByClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path, store.Limits{Sweep: time.Hour})
	storetestEnqueue(t, s, "shop", "a1", "a2")
	es, err := s.Fetch(ctx, "shop", 2, time.Hour)
	if err != nil || len(es) != 2 {
		t.Fatalf("Fetch = %d, %v", len(es), err)
	}
	if err := s.Ack(ctx, "shop", []string{es[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, store.Limits{Sweep: time.Hour})
	defer s.Close()
	got, err := s.Fetch(ctx, "shop", 10, time.Hour)
	if err != nil || len(got) != 1 || got[0].ID != es[1].ID {
		t.Fatalf("after reopen fetched %v, %v; want only %s", ids(got), err, es[1].ID)
	}
}

// A delete that cannot be committed gives the entries their leases back:
// they are delivered again once those run out (at least once).
func TestAckNotCommitted(t *testing.T) {
	ctx := context.Background()
	s := openHeld(t)
	defer s.Close()
	storetestEnqueue(t, s, "shop", "a1", "a2")
	leased, err := s.Fetch(ctx, "shop", 1, time.Hour)
	if err != nil || len(leased) != 1 {
		t.Fatalf("Fetch = %d, %v", len(leased), err)
	}
	other, err := s.Fetch(ctx, "shop", 1, time.Hour)
	if err != nil || len(other) != 1 {
		t.Fatalf("Fetch = %d, %v", len(other), err)
	}
	if err := s.Release(ctx, "shop", ids(other)); err != nil {
		t.Fatal(err)
	}
	// other is not leased now: Ack it too, then fail the commit.
	if err := s.Ack(ctx, "shop", []string{leased[0].ID, other[0].ID}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	until := s.leases["shop"][seqOf(t, leased[0].ID)]
	s.mu.Unlock()
	if !until.Equal(acking) {
		t.Fatalf("lease of an acknowledged entry = %v, want the acking mark", until)
	}
	_, done := s.takeAcks()
	if done == nil {
		t.Fatal("no acknowledgements queued")
	}
	done(false)
	got, err := s.Fetch(ctx, "shop", 10, time.Hour)
	if err != nil || len(got) != 1 || got[0].ID != other[0].ID {
		t.Fatalf("after a failed delete fetched %v, %v; want %s (no lease) and not %s (still leased)", ids(got), err, other[0].ID, leased[0].ID)
	}
	if !inFile(t, s, "shop", leased[0].ID) || !inFile(t, s, "shop", other[0].ID) {
		t.Error("entries whose delete failed are gone")
	}
}

// openHeld opens a store whose own commit of acknowledgements waits an
// hour: they are committed only along with other writes, or by Close.
func openHeld(t *testing.T) *Store {
	t.Helper()
	s := &Store{Path: filepath.Join(t.TempDir(), "s.db"), Limits: store.Limits{Sweep: time.Hour}, ackLinger: time.Hour}
	if err := s.open(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return s
}

func storetestEnqueue(t *testing.T, s *Store, client string, tags ...string) {
	t.Helper()
	items := make([]store.Item, len(tags))
	for i, tag := range tags {
		items[i] = store.Item{Client: client, Kind: store.KindReport, Frame: storetest.Frame(tag)}
	}
	if err := s.Enqueue(context.Background(), items); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func ids(es []store.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func stats(t *testing.T, s *Store) store.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// crashChildEnv names the database path for a child test process that
// writes under load until it is killed (see TestKilledMidLoad).
const crashChildEnv = "SMPPMUX_BOLT_CRASH_CHILD"

// TestKilledMidLoad kills (SIGKILL) a child process while it writes ids,
// reports and acknowledgements (storetest.KilledMidLoad). The file must
// then check clean, and hold every id and report whose write returned.
//
// A killed process loses nothing that reached the page cache, so this
// checks what the store committed before a call returned, and that the
// lazily committed deletes leave the file whole; it cannot check the
// disk's side of fsync, which is the same for every commit.
func TestKilledMidLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	storetest.KilledMidLoad(t, crashChildEnv, path, func() store.Store {
		s := open(t, path, store.Limits{Sweep: time.Hour})
		err := s.db.View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatalf("file does not check clean after the kill: %v", err)
		}
		return s
	})
}

// runCrashChild is the child of TestKilledMidLoad.
func runCrashChild() int {
	s, err := Open(os.Getenv(crashChildEnv), store.Limits{Sweep: time.Hour}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return storetest.LoadUntilKilled(s)
}

// PutIDs sorts its records: of equal ids in one call the last wins, an id
// already held is replaced with its old index key removed, and the count
// of ids held counts each id once.
func TestPutIDsReplace(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "s.db"), store.Limits{Sweep: time.Hour})
	defer s.Close()
	now := time.Now()
	exp := func(d time.Duration) time.Time { return now.Add(d) }
	if err := s.PutIDs(ctx, []store.IDRecord{
		{ID: "b", Client: "one", Expires: exp(time.Hour)},
		{ID: "a", Client: "one", Expires: exp(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIDs(ctx, []store.IDRecord{
		{ID: "c", Client: "one", Expires: exp(2 * time.Hour)},
		{ID: "a", Client: "two", Expires: exp(2 * time.Hour)},   // held: replaced
		{ID: "c", Client: "three", Expires: exp(3 * time.Hour)}, // twice in one call: the last wins
		{ID: "d", Client: "one", Expires: exp(2 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "two", "b": "one", "c": "three", "d": "one"}
	for id, client := range want {
		if c, ok, err := s.LookupID(ctx, id); !ok || c != client || err != nil {
			t.Errorf("LookupID(%s) = %q, %v, %v; want %s", id, c, ok, err, client)
		}
	}
	if n := stats(t, s).IDs; n != 4 {
		t.Errorf("Stats.IDs = %d, want 4", n)
	}
	// One index key per id, the one of its record.
	var keys []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		recs := tx.Bucket(bucketIDs)
		return tx.Bucket(bucketIDExp).ForEach(func(k, _ []byte) error {
			id := string(k[8:])
			if v := recs.Get(k[8:]); v == nil || string(v[:8]) != string(k[:8]) {
				return fmt.Errorf("index key of %s does not match its record", id)
			}
			keys = append(keys, id)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "a,b,c,d" {
		t.Errorf("index keys for %q, want one each for a,b,c,d", keys)
	}
}

// Ids that ascend (the provider's) fill their pages: the buckets they are
// appended to split pages full, not in halves.
func TestAscendingIDsFillPages(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "s.db"), store.Limits{Sweep: time.Hour})
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	next := uint64(0xc0ffee) << 32
	for range 50 {
		recs := make([]store.IDRecord, 200)
		for i := range recs {
			next++
			recs[i] = store.IDRecord{ID: strconv.FormatUint(next, 16), Client: "shop", Expires: exp}
		}
		if err := s.PutIDs(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketIDs, bucketIDExp} {
			st := tx.Bucket(name).Stats()
			if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.85 {
				t.Errorf("bucket %s: leaf pages %.0f%% full, want at least 85%%", name, 100*fill)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
