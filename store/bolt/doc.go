// Package bolt is the store.bolt module, the default store: message ids
// and per-client report queues in one local file, on go.etcd.io/bbolt.
//
// # Name
//
// store.bolt: module = "bolt" in the [store] table.
//
// # Description
//
// Once the mux answers the provider's deliver_sm, the provider forgets the
// report and it exists only here; and a client holds a message id only
// after its mapping to the client is here. So every PutIDs, Enqueue and
// Ack returns only after its bbolt transaction is committed and fsynced.
// Writers that arrive while a commit is running share the next one (group
// commit, batch.go): one caller pays one fsync and no added delay, many
// callers pay one fsync between them. A call's ctx is checked before it
// starts; once its write is queued for a commit it runs to the end, as a
// shared commit cannot withdraw one caller's write.
//
// The file holds three top-level buckets:
//
//	ids      message id -> expiry (8 bytes, unix ns, big-endian) + client system_id
//	id_exp   expiry (8) + message id -> nothing; the sweep walks it in expiry order
//	queues   one bucket per client: sequence (8, big-endian) -> kind (1) + enqueued (8, unix ns) + frame
//
// A queue key is the client bucket's NextSequence, so iteration is oldest
// first and an entry id (the sequence in decimal) is never reused. Leases
// are kept in memory: they are about a live process, so after a restart
// every entry can be fetched again (delivery is at least once).
//
// One background goroutine, started by Provision (or Open) and stopped by
// Cleanup (or Close), runs the sweep once per sweep interval: it removes ids
// past their expiry, and queue entries past retention or beyond the queue
// cap, oldest first, in transactions of at most 10,000 deletes. Fetch
// already skips entries past retention; entries beyond the cap are
// delivered until the sweep removes them.
//
// Errors: a path that cannot be opened (missing directory, no permission,
// not a bolt file, locked by another process for 2s) fails Provision with
// an error naming the path. A failed write (disk full, I/O error) is
// returned by the call, which never panics; the mux then answers the
// provider with ESME_RX_T_APPN (0x64) so that the provider keeps the
// report and sends it again.
//
// # Configuration
//
//	[store]
//	module    = "bolt"
//	path      = "smpp-mux.db" # the file; its directory must exist
//	retention = "48h"         # queue entries older than this are dropped
//	queue_cap = 25000         # entries per client; the oldest beyond it are dropped
//	sweep     = "1m"          # how often expired ids and dropped entries are removed
//
// The mux reads its own keys from the same table (module, dlr_ttl); this
// module declares only the keys above.
//
// # Example
//
//	[store]
//	module = "bolt"
//	path = "/var/lib/smpp-mux/smpp-mux.db"
//	retention = "72h"
//
// From Go, for tests and tools:
//
//	s, err := bolt.Open(path, store.Limits{}, log) // zero Limits: the defaults
//	if err != nil { ... }
//	defer s.Close()
//
// # Metrics and Stats
//
// Stats reports queue depths per client (exact key counts, leased entries
// included), ids held (a count kept in memory: approximate), Dropped
// (entries removed past retention or the cap since start) and Expired
// (ids removed past their expiry since start); the mux exports them on
// /metrics and /status. Each sweep that drops entries logs one Warn line
// with counts per client; a failed sweep logs at Error.
//
// Start reading at Store in bolt.go, then queue.go and batch.go.
package bolt
