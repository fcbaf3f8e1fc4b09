package mux

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/store"
)

// The id journal keeps the message ids the store failed to write (a full
// disk, Redis down), so that they survive a restart and reach the store,
// where other instances see them, once it takes writes again.
//
// The file is text, one id a line, appended and fsynced before the client
// sees its submit_sm_resp:
//
//	# smpp-mux message-id journal v1
//	1765090000 "shop" "0a1b2c"
//
// (expiry in Unix seconds, then the client's system_id and the id key,
// each a Go quoted string, so any octets survive). A line cut short by a
// crash is skipped when the file is read. The ids are also kept in memory
// (idFallback) for lookups. The write-back loop writes them to the store
// in batches, with back-off while the store fails, then rewrites the file
// with what is left (removed when nothing is). New replays the file, so a
// restart loses nothing; Shutdown makes one bounded attempt at the end.
//
// When the journal cannot be written either (the same full disk, or the
// file at journal_max_mb), the ids are kept in memory only: counted,
// logged, and lost if the process stops before the store takes them.
//
// A lock file beside it (path.lock, flock where the platform has it)
// keeps a second process off the journal: instances sharing a store and a
// working directory must each be given their own.
type idJournal struct {
	path string
	max  int64 // bytes; an append that would pass it fails with errJournalFull

	mu   sync.Mutex // guards f, size and lock; held over each append and rewrite
	f    *os.File   // opened at the first append; nil while the file is absent or unopened
	size int64
	lock *os.File // path.lock, locked from the first use of the journal until close
}

const (
	journalHeader       = "# smpp-mux message-id journal v1\n"
	defaultJournal      = "smpp-mux.ids.journal"
	defaultJournalMaxMB = 64
	writeBackFirst      = 250 * time.Millisecond
	writeBackMax        = 10 * time.Second
	writeBackBatch      = 4096
	shutdownWriteBack   = 5 * time.Second // the last write-back's bound in Shutdown
)

// errJournalFull is returned by an append past journal_max_mb.
var errJournalFull = errors.New("id journal full (store.journal_max_mb)")

// errJournalInUse is returned when another process holds the journal's
// lock: two instances writing one journal would drop each other's ids
// when they compact it.
var errJournalInUse = errors.New("id journal in use by another process; give each instance its own [store] journal")

func newJournal(path string, maxMB int) *idJournal {
	if maxMB <= 0 {
		maxMB = defaultJournalMaxMB
	}
	return &idJournal{path: path, max: int64(maxMB) << 20}
}

// journalPath returns where the journal of cfg and st lives: [store]
// journal; else beside the store's file (store.bolt); else in the working
// directory.
func journalPath(sc StoreConfig, st store.Store) string {
	if sc.Journal != "" {
		return sc.Journal
	}
	if lf, ok := st.(store.LocalFile); ok && lf.File() != "" {
		f := lf.File()
		return filepath.Join(filepath.Dir(f), strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))+".ids.journal")
	}
	return defaultJournal
}

// replay reads the journal's ids that have not expired by now, the last
// line of an id winning. A missing file holds none. A journal another
// process holds is an error.
func (j *idJournal) replay(now time.Time) ([]store.IDRecord, error) {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("id journal: %w", err)
	}
	defer f.Close()
	j.mu.Lock()
	err = j.lockLocked()
	j.mu.Unlock()
	if err != nil {
		return nil, err
	}
	byID := map[string]int{}
	var recs []store.IDRecord
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			break // an unterminated last line is a write cut short
		}
		if err != nil {
			return nil, fmt.Errorf("id journal %s: read: %w", j.path, err)
		}
		r, ok := parseJournalLine(strings.TrimSuffix(line, "\n"))
		if !ok || now.After(r.Expires) {
			continue
		}
		if i, ok := byID[r.ID]; ok {
			recs[i] = r
			continue
		}
		byID[r.ID] = len(recs)
		recs = append(recs, r)
	}
	return recs, nil
}

func appendJournalLine(dst []byte, r store.IDRecord) []byte {
	dst = strconv.AppendInt(dst, r.Expires.Unix(), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendQuote(dst, r.Client)
	dst = append(dst, ' ')
	dst = strconv.AppendQuote(dst, r.ID)
	return append(dst, '\n')
}

func parseJournalLine(line string) (store.IDRecord, bool) {
	var r store.IDRecord
	sec, rest, ok := strings.Cut(line, " ")
	if !ok || strings.HasPrefix(line, "#") {
		return r, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return r, false
	}
	r.Expires = time.Unix(n, 0)
	for i, dst := range []*string{&r.Client, &r.ID} {
		if i > 0 {
			if rest, ok = strings.CutPrefix(rest, " "); !ok {
				return r, false
			}
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return r, false
		}
		if *dst, err = strconv.Unquote(q); err != nil {
			return r, false
		}
		rest = rest[len(q):]
	}
	return r, rest == "" && r.ID != "" && r.Client != ""
}

// keep puts recs in fb and appends them to the journal, fsynced. The
// records are in fb even when the append fails.
func (j *idJournal) keep(fb *idFallback, recs []store.IDRecord) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range recs {
		fb.put(r.ID, r.Client, r.Expires)
	}
	buf := make([]byte, 0, 64*len(recs))
	for _, r := range recs {
		buf = appendJournalLine(buf, r)
	}
	return j.appendLocked(buf)
}

func (j *idJournal) appendLocked(buf []byte) error {
	if err := j.openLocked(); err != nil {
		return err
	}
	if j.size+int64(len(buf)) > j.max {
		return errJournalFull
	}
	if _, err := j.f.Write(buf); err != nil {
		// A partial record would be skipped when read, but the next
		// append would follow it on the same line: cut it off.
		_ = j.f.Truncate(j.size)
		return fmt.Errorf("id journal %s: write: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("id journal %s: fsync: %w", j.path, err)
	}
	j.size += int64(len(buf))
	return nil
}

// lockLocked takes the journal's lock file, once.
func (j *idJournal) lockLocked() error {
	if j.lock != nil {
		return nil
	}
	f, err := os.OpenFile(j.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("id journal lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return fmt.Errorf("id journal %s: %w", j.path, err)
	}
	j.lock = f
	return nil
}

// openLocked opens the journal for appending, creating it with its header.
func (j *idJournal) openLocked() error {
	if j.f != nil {
		return nil
	}
	if err := j.lockLocked(); err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("id journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("id journal %s: %w", j.path, err)
	}
	size := fi.Size()
	var head []byte
	if size == 0 {
		head = []byte(journalHeader)
	} else {
		var last [1]byte
		if _, err := f.ReadAt(last[:], size-1); err == nil && last[0] != '\n' {
			head = []byte{'\n'} // end a line cut short by a crash
		}
	}
	if len(head) > 0 {
		if _, err := f.Write(head); err != nil {
			_ = f.Truncate(size)
			f.Close()
			return fmt.Errorf("id journal %s: write: %w", j.path, err)
		}
		size += int64(len(head))
	}
	if fi.Size() == 0 {
		if err := f.Sync(); err == nil {
			syncDir(filepath.Dir(j.path)) // the new file's name is durable too
		}
	}
	j.f, j.size = f, size
	return nil
}

// compact rewrites the journal with the records fb still holds (expired
// ones drop out of it), or removes it when there are none. On an error
// the old file stays: replaying ids the store has already is harmless.
func (j *idJournal) compact(fb *idFallback, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lock == nil && fb.size() == 0 {
		if _, err := os.Stat(j.path); errors.Is(err, os.ErrNotExist) {
			return nil // never written, nothing to write
		}
	}
	if err := j.lockLocked(); err != nil {
		return err // another process's journal: not ours to rewrite
	}
	rest := fb.snapshot(now)
	if len(rest) == 0 {
		if j.f != nil {
			j.f.Close()
			j.f = nil
		}
		j.size = 0
		if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("id journal: %w", err)
		}
		syncDir(filepath.Dir(j.path))
		return nil
	}
	buf := []byte(journalHeader)
	for _, r := range rest {
		line := appendJournalLine(nil, r)
		if int64(len(buf)+len(line)) > j.max {
			break // the rest stay in memory only, as when an append fails
		}
		buf = append(buf, line...)
	}
	tmp := j.path + ".tmp"
	if err := writeFileSync(tmp, buf); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("id journal: rewrite: %w", err)
	}
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if err := os.Rename(tmp, j.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("id journal: rewrite: %w", err)
	}
	syncDir(filepath.Dir(j.path))
	return nil // reopened at the next append
}

// bytes returns the journal's length in bytes as this process knows it.
func (j *idJournal) bytes() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		if fi, err := os.Stat(j.path); err == nil {
			return fi.Size()
		}
	}
	return j.size
}

func (j *idJournal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if j.lock != nil {
		j.lock.Close() // releases the lock
		j.lock = nil
	}
}

func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a directory's entries durable; where a platform cannot,
// the rename or create is still done.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// keepIDs keeps ids the store failed to write: journaled and in memory,
// for the write-back loop to write to the store later.
func (in *Intake) keepIDs(recs []store.IDRecord, storeErr error) {
	if err := in.journal.keep(&in.idFallback, recs); err != nil {
		in.metrics.idsUnjournaled.Add(uint64(len(recs)))
		in.storeErr.log("cannot store message ids, nor journal them; keeping them in memory only, lost if the process stops before the store takes them",
			errors.Join(storeErr, err), zap.Int("ids", len(recs)), zap.String("journal", in.journal.path))
	} else {
		in.storeErr.log("cannot store message ids; journaled, and written to the store when it takes writes again",
			storeErr, zap.Int("ids", len(recs)), zap.String("journal", in.journal.path))
	}
	select {
	case in.wbKept <- struct{}{}:
	default:
	}
}

// storeTookIDs tells the write-back loop that the store took a write, so
// that the ids it holds are written now, not after the back-off.
func (in *Intake) storeTookIDs() {
	if in.idFallback.size() == 0 {
		return
	}
	select {
	case in.wbNow <- struct{}{}:
	default:
	}
}

// writeBackLoop writes the kept ids to the store until ctx ends: at once
// at start (ids replayed from the journal) and when the store takes a
// write again, else after a back-off doubling from writeBackFirst to
// writeBackMax while it fails.
func (in *Intake) writeBackLoop(ctx context.Context) {
	backoff := writeBackFirst
	t := time.NewTimer(0)
	defer t.Stop()
	armed := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.wbNow:
		case <-in.wbKept:
			if !armed {
				t.Reset(backoff)
				armed = true
			}
			continue
		case <-t.C:
			armed = false
		}
		if err := in.writeBack(ctx); err != nil {
			in.storeErr.log("cannot write journaled message ids to the store; retrying", err, zap.Int("pending", in.idFallback.size()))
			backoff = min(2*backoff, writeBackMax)
			t.Reset(backoff)
			armed = true
			continue
		}
		backoff = writeBackFirst
	}
}

// writeBack writes every id kept in memory to the store in batches,
// forgets those written, compacts the journal, and tells the matcher, so
// that receipts orphaned for these ids match. It returns the first error.
func (in *Intake) writeBack(ctx context.Context) error {
	now := time.Now()
	recs := in.idFallback.snapshot(now)
	var err error
	written := 0
	for len(recs) > 0 {
		batch := recs[:min(len(recs), writeBackBatch)]
		if err = in.store.PutIDs(ctx, batch); err != nil {
			break
		}
		in.idFallback.remove(batch)
		in.metrics.idsWrittenBack.Add(uint64(len(batch)))
		in.matcher.idsStored(batch)
		written += len(batch)
		recs = recs[len(batch):]
	}
	if written > 0 || (err == nil && in.journal.bytes() > 0) {
		if cerr := in.journal.compact(&in.idFallback, now); cerr != nil {
			in.storeErr.log("cannot compact the id journal; it is replayed in full at the next start", cerr, zap.String("journal", in.journal.path))
		}
	}
	if written > 0 {
		in.log.Info("journaled message ids written to the store", zap.Int("ids", written), zap.Int("pending", in.idFallback.size()))
	}
	return err
}

// replayJournal loads the ids a previous run journaled, for lookups at
// once and for the write-back loop.
func (in *Intake) replayJournal() error {
	recs, err := in.journal.replay(time.Now())
	if err != nil {
		return err
	}
	for _, r := range recs {
		in.idFallback.put(r.ID, r.Client, r.Expires)
	}
	if len(recs) > 0 {
		in.log.Info("message ids replayed from the journal; writing them to the store", zap.Int("ids", len(recs)), zap.String("journal", in.journal.path))
	}
	return nil
}

// finalWriteBack is Shutdown's bounded last attempt to write the kept ids
// to the store; what it cannot write stays in the journal for the next
// start.
func (in *Intake) finalWriteBack(ctx context.Context) {
	if in.idFallback.size() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, shutdownWriteBack)
	defer cancel()
	if err := in.writeBack(ctx); err != nil {
		in.log.Warn("message ids still not in the store at shutdown; kept in the journal for the next start",
			zap.Error(err), zap.Int("ids", in.idFallback.size()), zap.String("journal", in.journal.path))
	}
}

// idFallback holds message ids the store failed to write, so their reports
// still find their client until the write-back loop has written them to
// the store (see idJournal).
type idFallback struct {
	mu      sync.Mutex // guards m, sweepAt
	m       map[string]idRec
	sweepAt int // sweep expired ids when m reaches this size
}

type idRec struct {
	client  string
	expires time.Time
}

func (f *idFallback) put(id, client string, exp time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]idRec{}
	}
	if len(f.m) >= f.sweepAt {
		// Expired ids go; the rest are still needed to route receipts.
		now := time.Now()
		for k, r := range f.m {
			if now.After(r.expires) {
				delete(f.m, k)
			}
		}
		f.sweepAt = max(4096, 2*len(f.m))
	}
	f.m[id] = idRec{client, exp}
}

// size returns how many ids f holds, expired ones not yet swept included.
func (f *idFallback) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// snapshot returns the ids f holds that have not expired by now, and
// forgets the expired ones.
func (f *idFallback) snapshot(now time.Time) []store.IDRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]store.IDRecord, 0, len(f.m))
	for k, r := range f.m {
		if now.After(r.expires) {
			delete(f.m, k)
			continue
		}
		out = append(out, store.IDRecord{ID: k, Client: r.client, Expires: r.expires})
	}
	return out
}

// remove forgets recs, the store has them now; an id put again since
// (another client or expiry) stays.
func (f *idFallback) remove(recs []store.IDRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		if cur, ok := f.m[r.ID]; ok && cur.client == r.Client && cur.expires.Equal(r.Expires) {
			delete(f.m, r.ID)
		}
	}
}

func (f *idFallback) get(id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.m[id]
	if !ok || time.Now().After(r.expires) {
		return "", false
	}
	return r.client, true
}
