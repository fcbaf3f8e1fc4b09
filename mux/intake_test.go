package mux

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/store"
)

// idStore keeps message ids (refusing them while down), and queues in
// the simplest way: Fetch hands out, and forgets, what was enqueued.
type idStore struct {
	store.Store
	mu     sync.Mutex
	down   bool
	ids    map[string]string
	queued map[string][]store.Item
	acked  map[string][]string
	seq    int
}

func newIDStore() *idStore {
	return &idStore{ids: map[string]string{}, queued: map[string][]store.Item{}, acked: map[string][]string{}}
}

func (s *idStore) PutIDs(_ context.Context, recs []store.IDRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errors.New("store down")
	}
	for _, r := range recs {
		s.ids[r.ID] = r.Client
	}
	return nil
}

func (s *idStore) LookupID(_ context.Context, id string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.ids[id]
	return c, ok, nil
}

func (s *idStore) Enqueue(_ context.Context, items []store.Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		s.queued[it.Client] = append(s.queued[it.Client], it)
	}
	return nil
}

func (s *idStore) Fetch(_ context.Context, client string, limit int, _ time.Duration) ([]store.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Entry
	for _, it := range s.queued[client][:min(limit, len(s.queued[client]))] {
		s.seq++
		out = append(out, store.Entry{ID: string(rune('a' + s.seq)), Kind: it.Kind, Frame: it.Frame, Enqueued: time.Now()})
	}
	s.queued[client] = s.queued[client][len(out):]
	return out, nil
}

func (s *idStore) Ack(_ context.Context, client string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked[client] = append(s.acked[client], ids...)
	return nil
}

// The Intake alone, without a Mux, through a store outage: a message id
// the store refuses is journaled and kept in memory; a receipt for it
// that waits in the orphan queue is matched from memory and moved to its
// client; once the store takes writes again the id is written back and
// the journal goes.
func TestIntakeKeepsIDsThroughOutage(t *testing.T) {
	st := newIDStore()
	journal := filepath.Join(t.TempDir(), "ids.journal")
	cfg := &Config{Store: StoreConfig{Journal: journal}, Server: ServerConfig{MaxHeld: 10},
		Clients: []ClientConfig{{SystemID: "shop"}}}
	in, err := newIntake(testShared(st, cfg), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer in.journal.close()

	st.down = true
	recs := []store.IDRecord{{ID: "a1b", Client: "shop", Expires: time.Now().Add(time.Hour)}}
	if err := in.putIDs(context.Background(), recs); err == nil {
		t.Fatal("the store took the ids while down")
	}
	in.keepIDs(recs, errors.New("store down"))
	if _, err := os.Stat(journal); err != nil {
		t.Fatalf("id not journaled: %v", err)
	}

	// Reported in decimal (2587) for the hex id of the submit_sm_resp.
	text := "id:2587 sub:001 dlvrd:001 stat:DELIVRD err:000 text:x"
	frame := pdu.Append(nil, pdu.CmdDeliverSM, 0, 1, &pdu.SM{ESMClass: 0x04, ShortMessage: []byte(text)})
	st.queued[OrphanQueue] = []store.Item{{Client: OrphanQueue, Kind: store.KindReport, Frame: frame}}
	in.matcher.round(context.Background(), time.Now())
	if got := len(st.queued["shop"]); got != 1 {
		t.Fatalf("%d receipts moved to the client, want 1", got)
	}
	if got := len(st.acked[OrphanQueue]); got != 1 {
		t.Errorf("%d receipts removed from the orphan queue, want 1", got)
	}

	st.down = false
	if err := in.writeBack(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.ids["a1b"] != "shop" || in.pendingIDs() != 0 {
		t.Errorf("store ids %v, %d kept; want a1b written back, none kept", st.ids, in.pendingIDs())
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal left after the write-back: %v", err)
	}
}
