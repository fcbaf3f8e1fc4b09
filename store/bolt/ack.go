package bolt

import (
	"cmp"
	"context"
	"encoding/binary"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// ackLinger is how long an acknowledgement waits for a commit that other
// writes (message ids, reports) make anyway before the store commits it
// on its own. Under load it rides along in one of theirs; when the store
// has nothing else to commit, acknowledgements cost one commit per
// ackLinger at most.
const ackLinger = 5 * time.Millisecond

// pendingAck is an acknowledged entry whose delete waits for the next
// commit.
type pendingAck struct {
	client string
	seq    uint64
	prev   time.Time // its lease before the Ack (zero: none), restored if the delete fails
}

// Ack implements store.Store. The entries leave the queue at once for
// this process (no Fetch returns them again), but their deletes are only
// queued: they ride along in the next commit of other writes, or are
// committed within ackLinger by the store itself, with an fsync like any
// other commit. Ack therefore returns before its deletes are durable:
// after a crash in that window the entries are still in the file and are
// delivered again, which at-least-once delivery allows. Nothing else is
// at risk: every transaction the store commits is fsynced, so the file
// holds whole commits only. Close commits what is queued. Unknown ids are
// ignored.
//
// Should the delete's commit fail (disk full, I/O error), the entries get
// their leases back and are delivered again when those run out.
func (s *Store) Ack(ctx context.Context, client string, ids []string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	seqs := parseIDs(ids)
	if len(seqs) == 0 {
		return nil
	}
	s.mu.Lock()
	held := s.leases[client]
	if held == nil {
		held = make(map[uint64]time.Time, len(seqs))
		s.leases[client] = held
	}
	for _, seq := range seqs {
		prev := held[seq]
		if prev.Equal(acking) {
			continue // acknowledged twice: its delete is queued already
		}
		held[seq] = acking
		s.queueRiderLocked()
		s.acks = append(s.acks, pendingAck{client: client, seq: seq, prev: prev})
	}
	s.mu.Unlock()
	s.wakeAckLoop()
	return nil
}

// queueRiderLocked notes, with s.mu held, that a write nobody waits for
// (an acknowledgement, events, finals) is about to be queued: the first
// one starts ackLinger.
func (s *Store) queueRiderLocked() {
	if s.ridersQueuedLocked() == 0 {
		s.acksSince = time.Now()
	}
}

// ridersQueuedLocked counts, with s.mu held, the writes nobody waits for
// that no commit has taken yet.
func (s *Store) ridersQueuedLocked() int {
	return len(s.acks) + len(s.events) + len(s.finals)
}

// wakeAckLoop tells ackLoop that riders were queued.
func (s *Store) wakeAckLoop() {
	select {
	case s.ackWake <- struct{}{}:
	default:
	}
}

// takeAcks is the batcher's rider: it hands the queued deletes to the
// next transaction, and, once that has committed, drops the entries'
// acking marks (a Fetch whose snapshot still has them skips them until
// then). If the deletes cannot be committed, the entries get the leases
// they had before their Ack back.
func (s *Store) takeAcks() (func(*bbolt.Tx) error, func(bool)) {
	s.mu.Lock()
	acks := s.acks
	s.acks = nil
	s.acksRiding += len(acks)
	s.mu.Unlock()
	if len(acks) == 0 {
		return nil, nil
	}
	slices.SortFunc(acks, func(a, b pendingAck) int {
		return cmp.Or(cmp.Compare(a.client, b.client), cmp.Compare(a.seq, b.seq))
	})
	write := func(tx *bbolt.Tx) error {
		qs := tx.Bucket(bucketQueues)
		var (
			b      *bbolt.Bucket
			client string
			key    [8]byte
		)
		for i, a := range acks {
			if i == 0 || a.client != client {
				client = a.client
				if b = qs.Bucket([]byte(client)); b != nil {
					b.FillPercent = queueFill
				}
			}
			if b == nil {
				continue
			}
			binary.BigEndian.PutUint64(key[:], a.seq)
			if err := b.Delete(key[:]); err != nil {
				return err
			}
		}
		return nil
	}
	done := func(committed bool) {
		s.mu.Lock()
		s.acksRiding -= len(acks)
		for _, a := range acks {
			held := s.leases[a.client]
			if committed || a.prev.IsZero() {
				delete(held, a.seq)
			} else {
				held[a.seq] = a.prev // not deleted: the lease it had stands
			}
		}
		s.mu.Unlock()
		if !committed {
			s.log.Warn("cannot remove acknowledged entries; they will be delivered again",
				zap.Int("entries", len(acks)), zap.String("path", s.Path))
		}
	}
	return write, done
}

// ackLoop commits queued acknowledgements that no other commit took
// within ackLinger of the first of them, until Close.
func (s *Store) ackLoop() {
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-s.stop:
			return
		case <-s.ackWake:
		}
		for {
			s.mu.Lock()
			pending, since := s.ridersQueuedLocked() > 0, s.acksSince
			s.mu.Unlock()
			if !pending {
				break // a commit took them: wait for the next Ack
			}
			wait := s.ackLinger - time.Since(since)
			if wait <= 0 {
				s.flushAcks()
				break
			}
			t.Reset(wait)
			select {
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// flushAcks returns once the acknowledgements (and the other riders:
// events, finals) queued before its call are committed (or their commit
// failed).
func (s *Store) flushAcks() {
	s.mu.Lock()
	n := s.ridersQueuedLocked() + s.acksRiding + s.eventsRiding + s.finalsRiding
	s.mu.Unlock()
	if n > 0 {
		_ = s.batch.do(nil)
	}
}
