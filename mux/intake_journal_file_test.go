package mux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

// The journal keeps any octets of an id, skips a line cut short by a crash
// and what has expired, and, after the crash, appends on a line of its own.
func TestJournalReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ids.journal")
	j := newJournal(path, 0)
	now := time.Now()
	exp := now.Add(time.Hour).Truncate(time.Second)
	var fb idFallback
	recs := []store.IDRecord{
		{ID: "0a1b", Client: "shop", Expires: exp},
		{ID: "raw \x00\xff\n\"id", Client: "bank", Expires: exp},
		{ID: "old", Client: "shop", Expires: now.Add(-time.Second)},
	}
	if err := j.keep(&fb, recs); err != nil {
		t.Fatal(err)
	}
	j.close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`1999999999 "shop" "cut`) // a crash mid-append
	f.Close()
	if err := j.keep(&fb, []store.IDRecord{{ID: "after", Client: "shop", Expires: exp}}); err != nil {
		t.Fatal(err)
	}
	j.close()
	got, err := newJournal(path, 0).replay(now)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.IDRecord{recs[0], recs[1], {ID: "after", Client: "shop", Expires: exp}}
	if len(got) != len(want) {
		t.Fatalf("replayed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Client != want[i].Client || !got[i].Expires.Equal(want[i].Expires) {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// An append past journal_max_mb fails; the ids are still kept in memory.
func TestJournalFull(t *testing.T) {
	j := newJournal(filepath.Join(t.TempDir(), "ids.journal"), 1)
	var fb idFallback
	big := make([]store.IDRecord, 20000) // ~70 octets a line: over 1 MiB
	for i := range big {
		big[i] = store.IDRecord{ID: fmt.Sprintf("%040d", i), Client: "shop", Expires: time.Now().Add(time.Hour)}
	}
	if err := j.keep(&fb, big); err != errJournalFull {
		t.Fatalf("keep: %v, want errJournalFull", err)
	}
	if _, ok := fb.get(big[0].ID); !ok {
		t.Fatal("id not kept in memory")
	}
	j.close()
}

// A journal another process (here another idJournal) holds is refused,
// so two instances never drop each other's ids when they compact it.
func TestJournalInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ids.journal")
	var fb idFallback
	rec := []store.IDRecord{{ID: "1", Client: "shop", Expires: time.Now().Add(time.Hour)}}
	first := newJournal(path, 0)
	if err := first.keep(&fb, rec); err != nil {
		t.Fatal(err)
	}
	second := newJournal(path, 0)
	if _, err := second.replay(time.Now()); !errors.Is(err, errJournalInUse) {
		t.Fatalf("replay of a journal in use: %v", err)
	}
	if err := second.keep(&fb, rec); !errors.Is(err, errJournalInUse) {
		t.Fatalf("append to a journal in use: %v", err)
	}
	first.close()
	if recs, err := second.replay(time.Now()); err != nil || len(recs) != 1 {
		t.Fatalf("replay once released: %v %v", recs, err)
	}
	second.close()
}
