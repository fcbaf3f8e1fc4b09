package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/module"
	"github.com/smpp-mux/smpp-mux/store"
)

func init() { module.Register(new(Store)) }

// DefaultPath is where the database lives when path is not set, relative
// to the working directory.
const DefaultPath = "smpp-mux.db"

// openTimeout bounds the wait for the file lock another process holds on
// the same database; bbolt would otherwise wait for ever.
const openTimeout = 2 * time.Second

var (
	bucketIDs    = []byte("ids")    // id -> expiry (8 bytes, unix ns) + client
	bucketIDExp  = []byte("id_exp") // expiry (8) + id -> nothing: ids in expiry order, for the sweep
	bucketQueues = []byte("queues") // client -> bucket of seq (8, big-endian) -> kind (1) + enqueued (8) + frame
	// bucketIDFinal: expiry brought forward (8) + id -> the record's expiry (8), for ExpireIDs and the sweep
	bucketIDFinal = []byte("id_final")
	// bucketHistory (history.go): id -> its events
)

// Store is the store.bolt module: a store.Store in one bbolt file. Every
// write returns only after its transaction is committed and fsynced;
// concurrent writers share commits (group commit). Leases live in memory:
// after a restart every queued entry can be fetched again.
//
// The zero value is not usable: it is made by the module loader and
// Provision, or by Open.
type Store struct {
	Path string `toml:"path"` // default "smpp-mux.db"
	// retention (default 48h), queue_cap (default 25000) and sweep
	// (default 1m): see store.Limits.
	store.Limits

	limits store.Limits
	log    *zap.Logger
	batch  batcher

	closeMu sync.RWMutex // held for reading by every call; for writing by Close
	db      *bbolt.DB    // nil until opened; guarded by closeMu
	closed  bool         // guarded by closeMu

	mu         sync.Mutex                      // guards leases and the riders: acks, events, finals and their counts riding
	leases     map[string]map[uint64]time.Time // client -> seq -> lease end
	acks       []pendingAck                    // acknowledged entries whose deletes wait for a commit
	acksSince  time.Time                       // when the first of acks, events or finals was queued
	ackLinger  time.Duration                   // 0: the default, ackLinger
	acksRiding int                             // deletes taken by a commit that has not ended
	ackWake    chan struct{}                   // cap 1: acks, events or finals were queued

	events       []store.Event // history events waiting for a commit (history.go)
	eventsRiding int           // events taken by a commit that has not ended
	finals       []finalBatch  // ExpireIDs calls waiting for a commit (ids.go)
	finalsRiding int           // finals taken by a commit that has not ended

	// statsMu is held for writing by the sweep from a delete's commit to
	// its counting, and for reading by Stats, so that a snapshot's depths
	// and counters agree.
	statsMu sync.RWMutex
	ids     atomic.Int64 // approximate count of ids held
	dropped atomic.Uint64
	expired atomic.Uint64

	stopOnce sync.Once
	stop     chan struct{}  // closed by Close to stop the sweep
	wg       sync.WaitGroup // the sweep and ack goroutines
}

// MuxModule implements module.Module.
func (*Store) MuxModule() module.Info {
	return module.Info{
		ID:  "store.bolt",
		New: func() module.Module { return new(Store) },
		Doc: "ids and report queues in one local bbolt file, fsynced (the default)",
	}
}

// Open opens (creating it if needed) the database at path with limits
// and starts its sweep, for tests and tools. Close stops the sweep and
// closes the file. log may be nil.
func Open(path string, limits store.Limits, log *zap.Logger) (*Store, error) {
	s := &Store{
		Path:   path,
		Limits: limits,
	}
	if err := s.open(context.Background(), log); err != nil {
		return nil, err
	}
	return s, nil
}

// File implements store.LocalFile: the mux keeps its id journal beside
// the database.
func (s *Store) File() string { return s.Path }

// Provision implements module.Provisioner: it opens the file and starts the
// sweep, which stops when ctx is cancelled or at Cleanup.
func (s *Store) Provision(ctx module.Context) error {
	return s.open(ctx, ctx.Logger())
}

// Validate implements module.Validator.
func (s *Store) Validate() error { return s.check() }

// Cleanup implements module.CleanerUpper; it also works after a Provision
// that failed.
func (s *Store) Cleanup() error { return s.Close() }

func (s *Store) check() error {
	if err := s.Limits.Invalid(); err != nil {
		return fmt.Errorf("store.bolt: %w", err)
	}
	return nil
}

func (s *Store) open(ctx context.Context, log *zap.Logger) error {
	if err := s.check(); err != nil {
		return err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if s.Path == "" {
		s.Path = DefaultPath
	}
	s.log = log
	s.limits = s.Limits
	s.limits.Defaults()
	s.leases = make(map[string]map[uint64]time.Time)
	s.stop = make(chan struct{})
	s.ackWake = make(chan struct{}, 1)
	if s.ackLinger <= 0 {
		s.ackLinger = ackLinger
	}

	db, err := bbolt.Open(s.Path, 0o600, &bbolt.Options{Timeout: openTimeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("locked by another process: %w", err)
		}
		return fmt.Errorf("store.bolt: open %s: %w", s.Path, err)
	}
	var n int
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketIDs, bucketIDExp, bucketIDFinal, bucketQueues, bucketHistory} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		n = tx.Bucket(bucketIDs).Stats().KeyN
		return nil
	})
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("store.bolt: open %s: create buckets: %w", s.Path, err)
	}
	s.ids.Store(int64(n))
	s.db = db
	s.batch.db = db
	s.batch.rider = s.takeRiders
	s.log.Info("store opened", zap.String("path", s.Path), zap.Int("ids", n),
		zap.Duration("retention", s.limits.Retention), zap.Int("queue_cap", s.limits.QueueCap))
	s.wg.Go(func() { s.sweepLoop(ctx) })
	s.wg.Go(s.ackLoop)
	return nil
}

// Close stops the sweep, waits for calls in progress, commits the
// acknowledgements still queued and closes the file. Later calls return
// store.ErrClosed.
func (s *Store) Close() error {
	s.stopOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
		}
	})
	s.wg.Wait()
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed || s.db == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	s.flushAcks() // no call is in progress: this commit is the last
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store.bolt: close %s: %w", s.Path, err)
	}
	return nil
}

// acquire takes the read side of closeMu for one call. It returns
// store.ErrClosed once the store is closed (or was never opened), and
// ctx's error when it is already done.
func (s *Store) acquire(ctx context.Context) error {
	s.closeMu.RLock()
	if s.closed || s.db == nil {
		s.closeMu.RUnlock()
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		s.closeMu.RUnlock()
		return err
	}
	return nil
}

func (s *Store) release() { s.closeMu.RUnlock() }

// Stats implements store.Store. Queue depths are exact key counts, once
// the acknowledgements queued before the call are committed; the id count
// is kept in memory and approximate.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	if err := s.acquire(ctx); err != nil {
		return store.Stats{}, err
	}
	defer s.release()
	s.flushAcks()
	s.statsMu.RLock()
	defer s.statsMu.RUnlock()
	st := store.Stats{
		IDs:     int(max(s.ids.Load(), 0)),
		Queued:  make(map[string]int),
		Dropped: s.dropped.Load(),
		Expired: s.expired.Load(),
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		qs := tx.Bucket(bucketQueues)
		return qs.ForEachBucket(func(name []byte) error {
			if n := qs.Bucket(name).Stats().KeyN; n > 0 {
				st.Queued[string(name)] = n
			}
			return nil
		})
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("store.bolt: stats: %w", err)
	}
	return st, nil
}

// queueFill is the FillPercent of queue buckets. Their keys are the
// bucket's sequence, so every put goes past the last key: pages split
// full, not in halves, and the tail page a commit rewrites holds as much
// as it can.
const queueFill = 1.0

// entryHeader is the length of a queue value before its frame.
const entryHeader = 9

// appendEntry appends the value of a queue key: kind, enqueued (unix ns),
// frame.
func appendEntry(v []byte, kind store.Kind, enqueued time.Time, frame []byte) []byte {
	v = append(v, byte(kind))
	v = binary.BigEndian.AppendUint64(v, uint64(enqueued.UnixNano()))
	return append(v, frame...)
}

// entryTime returns when a queue value was enqueued; ok is false for a
// value too short to be an entry.
func entryTime(v []byte) (t time.Time, ok bool) {
	if len(v) < 9 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))), true
}

// appendID appends the value of an ids key: expiry (unix ns), then
// client.
func appendID(v []byte, r store.IDRecord) []byte {
	v = binary.BigEndian.AppendUint64(v, uint64(unixNano(r.Expires)))
	return append(v, r.Client...)
}

// appendExpKey appends the id_exp key of an id that expires at exp.
func appendExpKey(k []byte, exp int64, id string) []byte {
	k = binary.BigEndian.AppendUint64(k, uint64(exp))
	return append(k, id...)
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.LocalFile         = (*Store)(nil)
	_ store.IDBatchLookup     = (*Store)(nil)
	_ store.JointWriter       = (*Store)(nil)
	_ store.LeasedEnqueuer    = (*Store)(nil)
	_ store.LeasedJointWriter = (*Store)(nil)
	_ store.IDExpirer         = (*Store)(nil)
	_ module.Provisioner      = (*Store)(nil)
	_ module.Validator        = (*Store)(nil)
	_ module.CleanerUpper     = (*Store)(nil)
)
