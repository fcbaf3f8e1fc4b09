package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/mux"
	"github.com/smpp-mux/smpp-mux/store"
)

func init() { mux.RegisterModule(new(Store)) }

// DefaultPath is the database's directory when path is not set, relative
// to the working directory.
const DefaultPath = "smpp-mux.pebble"

// Key prefixes: one keyspace, one byte per kind of key.
const (
	prefixID      = 'i' // id -> expiry (8, unix ns, big-endian) + client
	prefixExp     = 'e' // expiry (8) + id -> nothing: ids in expiry order, for the sweep
	prefixHistory = 'h' // id -> events (store.AppendEvent), appended by merges
	prefixQueue   = 'q' // client + 0x00 + seq (8) -> kind (1) + enqueued (8, unix ns) + frame
)

// Store is the store.pebble module: a store.Store in one pebble database
// (a directory). PutIDs, Enqueue and PutIDsEnqueue return once their
// batch is in the write-ahead log and fsynced; pebble's commit pipeline
// shares one fsync between the batches committed meanwhile (group
// commit). Ack, AddEvents and ExpireIDs are written to the log without an
// fsync of their own: the next synced batch makes them durable. Leases
// live in memory: after a restart every queued entry can be fetched again.
//
// The zero value is not usable: it is made by the module loader and
// Provision, or by Open.
type Store struct {
	Path      string       `toml:"path"`      // default "smpp-mux.pebble", a directory
	Retention mux.Duration `toml:"retention"` // default 48h
	QueueCap  int          `toml:"queue_cap"` // default 25000
	Sweep     mux.Duration `toml:"sweep"`     // default 1m

	limits store.Limits
	log    *zap.Logger
	fs     vfs.FS // nil: the operating system's; tests set a crashable one

	closeMu sync.RWMutex // held for reading by every call; for writing by Close
	db      *pebbledb.DB // nil until opened; guarded by closeMu
	closed  bool         // guarded by closeMu

	mu     sync.Mutex                      // guards leases and queues
	leases map[string]map[uint64]time.Time // client -> seq -> lease end
	queues map[string]*queue               // client -> its sequence state

	ids     atomic.Int64 // approximate count of ids held
	dropped atomic.Uint64
	expired atomic.Uint64

	stopOnce sync.Once
	stop     chan struct{}  // closed by Close to stop the sweep
	wg       sync.WaitGroup // the sweep
}

// MuxModule implements mux.Module.
func (*Store) MuxModule() mux.ModuleInfo {
	return mux.ModuleInfo{
		ID:  "store.pebble",
		New: func() mux.Module { return new(Store) },
		Doc: "ids and report queues in a local pebble database (LSM, group-committed fsynced log)",
	}
}

// Open opens (creating it if needed) the database in the directory path
// with limits and starts its sweep, for tests and tools. Close stops the
// sweep and closes the database. log may be nil.
func Open(path string, limits store.Limits, log *zap.Logger) (*Store, error) {
	s := newStore(path, limits)
	if err := s.open(context.Background(), log); err != nil {
		return nil, err
	}
	return s, nil
}

func newStore(path string, limits store.Limits) *Store {
	return &Store{
		Path:      path,
		Retention: mux.Duration(limits.Retention),
		QueueCap:  limits.QueueCap,
		Sweep:     mux.Duration(limits.Sweep),
	}
}

// File implements store.LocalFile: the mux keeps its id journal beside
// the database's directory.
func (s *Store) File() string { return s.Path }

// Provision implements mux.Provisioner: it opens the database and starts
// the sweep, which stops when ctx is cancelled or at Cleanup.
func (s *Store) Provision(ctx mux.Context) error {
	return s.open(ctx, ctx.Logger())
}

// Validate implements mux.Validator.
func (s *Store) Validate() error { return s.check() }

// Cleanup implements mux.CleanerUpper; it also works after a Provision
// that failed.
func (s *Store) Cleanup() error { return s.Close() }

func (s *Store) check() error {
	if s.QueueCap < 0 {
		return fmt.Errorf("store.pebble: queue_cap %d is negative", s.QueueCap)
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
	s.limits = store.Limits{Retention: s.Retention.Std(), QueueCap: s.QueueCap, Sweep: s.Sweep.Std()}
	s.limits.Defaults()
	s.leases = make(map[string]map[uint64]time.Time)
	s.stop = make(chan struct{})
	fs := s.fs
	if fs == nil {
		fs = vfs.Default
		if err := notBolt(s.Path); err != nil {
			return fmt.Errorf("store.pebble: open %s: %w", s.Path, err)
		}
		if _, err := os.Stat(filepath.Dir(s.Path)); err != nil { // pebble would create it
			return fmt.Errorf("store.pebble: open %s: %w", s.Path, err)
		}
	}
	opts := &pebbledb.Options{
		FS:                 fs,
		Logger:             pebbleLogger{log.Sugar()},
		FormatMajorVersion: pebbledb.FormatNewest,
		MemTableSize:       32 << 20,
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10) // LookupIDs of ids not held skip tables
	}
	db, err := pebbledb.Open(s.Path, opts)
	if err != nil {
		return fmt.Errorf("store.pebble: open %s: %w", s.Path, err)
	}
	n, queues, err := load(db)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("store.pebble: open %s: %w", s.Path, err)
	}
	s.ids.Store(int64(n))
	s.queues = queues
	s.db = db
	s.log.Info("store opened", zap.String("path", s.Path), zap.Int("ids", n), zap.Int("queues", len(queues)),
		zap.Duration("retention", s.limits.Retention), zap.Int("queue_cap", s.limits.QueueCap))
	s.wg.Go(func() { s.sweepLoop(ctx) })
	return nil
}

// Close stops the sweep, waits for calls in progress and closes the
// database; what was written without an fsync of its own (acknowledgements,
// events, shortened expiries) is flushed to the log first. Later calls
// return store.ErrClosed.
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
	syncErr := s.db.LogData(nil, pebbledb.Sync) // the unsynced tail of the log
	if err := errors.Join(syncErr, s.db.Close()); err != nil {
		return fmt.Errorf("store.pebble: close %s: %w", s.Path, err)
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

// Stats implements store.Store. Queue depths are exact key counts; the
// id count is kept in memory and approximate.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	if err := s.acquire(ctx); err != nil {
		return store.Stats{}, err
	}
	defer s.release()
	st := store.Stats{
		IDs:     int(max(s.ids.Load(), 0)),
		Queued:  make(map[string]int),
		Dropped: s.dropped.Load(),
		Expired: s.expired.Load(),
	}
	s.mu.Lock()
	heads := make(map[string]uint64, len(s.queues))
	for c, q := range s.queues {
		heads[c] = q.head
	}
	s.mu.Unlock()
	for client, head := range heads {
		n := 0
		err := s.scanQueue(client, head, func(uint64, []byte) bool { n++; return true })
		if err != nil {
			return store.Stats{}, fmt.Errorf("store.pebble: stats: %w", err)
		}
		if n > 0 {
			st.Queued[client] = n
		}
	}
	return st, nil
}

// idKey appends the key of a message id.
func idKey(k []byte, id string) []byte {
	k = append(k, prefixID)
	return append(k, id...)
}

// historyKey appends the key of a message id's history.
func historyKey(k []byte, id string) []byte {
	k = append(k, prefixHistory)
	return append(k, id...)
}

// expKey appends the index key of an id that expires at exp.
func expKey(k []byte, exp int64, id string) []byte {
	k = append(k, prefixExp)
	k = binary.BigEndian.AppendUint64(k, uint64(exp))
	return append(k, id...)
}

// queueKey appends the key of a client's queue entry.
func queueKey(k []byte, client string, seq uint64) []byte {
	k = append(k, prefixQueue)
	k = append(k, client...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// queueEnd is the upper bound of every key of client's queue.
func queueEnd(client string) []byte {
	k := append([]byte{prefixQueue}, client...)
	return append(k, 1)
}

// unixNano is t in unix nanoseconds, clamped to the range a key can sort
// (times before 1970 sort first; the zero Time is long expired).
func unixNano(t time.Time) int64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return t.UnixNano()
}

// entryHeader is the length of a queue value before its frame.
const entryHeader = 9

// maxSeq is past every sequence number.
const maxSeq = math.MaxUint64

// pebbleLogger passes pebble's own log lines to the store's logger.
type pebbleLogger struct{ l *zap.SugaredLogger }

func (p pebbleLogger) Infof(format string, args ...any)  { p.l.Debugf("pebble: "+format, args...) }
func (p pebbleLogger) Errorf(format string, args ...any) { p.l.Errorf("pebble: "+format, args...) }
func (p pebbleLogger) Fatalf(format string, args ...any) { p.l.Fatalf("pebble: "+format, args...) }

var (
	_ store.Store         = (*Store)(nil)
	_ store.LocalFile     = (*Store)(nil)
	_ store.IDBatchLookup = (*Store)(nil)
	_ store.JointWriter   = (*Store)(nil)
	_ store.IDExpirer     = (*Store)(nil)
	_ store.History       = (*Store)(nil)
	_ store.Peeker        = (*Store)(nil)
	_ mux.Provisioner     = (*Store)(nil)
	_ mux.Validator       = (*Store)(nil)
	_ mux.CleanerUpper    = (*Store)(nil)
)
