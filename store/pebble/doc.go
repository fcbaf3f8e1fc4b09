// Package pebble is the store.pebble module: message ids and per-client
// report queues in a local pebble database (github.com/cockroachdb/pebble/v2,
// an LSM tree with a write-ahead log), built for the receipts path's
// write pattern: append, delete soon.
//
// # Name
//
// store.pebble: module = "pebble" in the [store] table.
//
// # Description
//
// Durability is store.bolt's: PutIDs, Enqueue and PutIDsEnqueue (both in
// one batch) return only once their batch is in the write-ahead log and
// fsynced (pebble.Sync). Pebble's commit pipeline shares one fsync between
// the batches that arrive while one runs (group commit): one caller pays
// one fsync, many pay one between them. A call's ctx is checked before it
// starts.
//
// Ack, AddEvents (the trace) and ExpireIDs (final_ttl) are the exceptions
// the store.Store contract allows: their batches are applied at once (no
// Fetch returns an acknowledged entry again) and written to the log
// without an fsync of their own (pebble.NoSync). The log is replayed in
// order after a crash, so the next synced batch makes them durable, and a
// crash before it can only bring acknowledged entries back, to be
// delivered again (at least once), or lose a trace event or a shortened
// expiry; nothing else. Close flushes the log.
//
// One keyspace, one prefix byte per kind of key:
//
//	i + id                 expiry (8 bytes, unix ns, big-endian) + client system_id
//	e + expiry (8) + id    nothing: ids in expiry order, for the sweep
//	h + id                 the id's history (store.History): events merged in by
//	                       pebble's concatenating merge, no read; History keeps the
//	                       last store.MaxHistory; deleted with the id
//	q + client + 0 + seq   kind (1) + enqueued (8, unix ns) + frame
//
// PutIDs writes a record and an index key without reading: a replaced
// record's old index key, and the old one of an id ExpireIDs brought
// forward (ExpireIDs rewrites the record and adds a key at the earlier
// expiry), stay until the sweep reaches them and drops them, as their
// record has another expiry. LookupIDs is one Get per id; every level's
// tables have bloom filters, so an id not held is mostly answered from
// memory.
//
// A queue key's seq is the client's next sequence number, kept in memory
// (found again at open), so iteration is oldest first and an entry id
// (seq in decimal) is never reused. An LSM keeps deleted keys as
// tombstones until a compaction drops them, so each queue has a head in
// memory, at or below its oldest entry: Fetch, Peek, Stats and the sweep
// start there rather than at the acknowledged entries' tombstones. Leases
// are kept in memory: after a restart every entry can be fetched again.
//
// One background goroutine, started by Provision (or Open) and stopped by
// Cleanup (or Close), runs the sweep once per sweep interval: it removes
// ids past their expiry (the index's swept span with one range delete,
// which later scans skip at once) in batches of at most 10,000 ids, then
// queue entries past retention or beyond the queue cap, oldest first.
// Fetch already skips entries past retention.
//
// Errors: a path that is a file fails Provision (and the mux's config
// check) with an error naming the path; a store.bolt database there is
// named as such: store.pebble does not read or convert it, and never
// silently starts empty beside it (see Configuration). A missing parent
// directory, no permission, or a database locked by another process fail
// Provision too.
//
// A full disk is where store.pebble falls short of store.bolt: pebble
// treats a failed write of its log as fatal (its "fatal commit error",
// passed to the mux's log at Fatal level), so the process exits where
// store.bolt returns the error and the mux answers the provider with
// ESME_RX_T_APPN (0x64) until space comes back. The fault suite's full
// disk case (faults/, 11) fails with store.pebble for this reason: run it
// on a volume with room to spare, watched, or keep store.bolt.
//
// Memory: pebble keeps recent writes in a 32 MiB memtable (two while one
// is flushed) and reads through its block cache (8 MiB), about 40-60 MiB
// more resident memory than store.bolt under load (bench/README.md).
//
// # Configuration
//
//	[store]
//	module    = "pebble"
//	path      = "smpp-mux.pebble" # a directory; its parent must exist
//	retention = "48h"             # queue entries older than this are dropped
//	queue_cap = 25000             # entries per client; the oldest beyond it are dropped
//	sweep     = "1m"              # how often expired ids and dropped entries are removed
//
// The mux reads its own keys from the same table (module, dlr_ttl,
// journal, journal_max_mb, final_ttl, trace); this module declares only
// the keys above. The mux's journal of message ids the store failed to
// take lives beside the directory: smpp-mux.pebble ->
// smpp-mux.ids.journal.
//
// Moving from store.bolt: pointing path at the bolt file is refused. Let
// the bolt store's queues drain (GET /status shows none queued), stop the
// mux, set module = "pebble" and a new path, and start it: the message
// ids of receipts still to come are in the bolt file only, so receipts
// for messages sent before the switch are then unmatched (the orphan
// queue); switch at a quiet time, or keep store.bolt.
//
// # Example
//
//	[store]
//	module = "pebble"
//	path = "/var/lib/smpp-mux/smpp-mux.pebble"
//
// From Go, for tests and tools:
//
//	s, err := pebble.Open(dir, store.Limits{}, log) // zero Limits: the defaults
//	if err != nil { ... }
//	defer s.Close()
//
// # Metrics and Stats
//
// Stats reports queue depths per client (exact key counts, leased entries
// included), ids held (a count kept in memory, approximate: replaced
// records count twice until the sweep), Dropped and Expired since start,
// as store.bolt does. Each sweep that drops entries logs one Warn line
// with counts per client; pebble's own log lines go to the mux's log
// (informational ones at debug).
//
// Start reading at Store in pebble.go, then queue.go, ids.go and sweep.go.
package pebble
