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
// after its mapping to the client is here. So every PutIDs and Enqueue
// (and PutIDsEnqueue, both in one) returns only after its bbolt
// transaction is committed and fsynced. Writers that arrive while a
// commit is running share the next one (group commit, batch.go): one
// caller pays one commit and no added delay, many callers pay one commit
// between them. A call's ctx is checked before it starts; once its write
// is queued for a commit it runs to the end, as a shared commit cannot
// withdraw one caller's write.
//
// Ack is the exception (ack.go): it returns at once, the entries leave
// the queue for this process (no Fetch returns them), and their deletes
// ride along in the next commit of other writes, or are committed by the
// store itself when none came within 5ms. Every commit is fsynced like
// any other, so the file only ever holds whole commits: a crash before
// the deletes' commit leaves the entries in the file, to be delivered
// again after the restart (at least once), and can lose or damage nothing
// else. Close commits the deletes still queued. (bbolt's NoSync
// transactions are not used: a crash after one could leave its meta page
// on disk without the pages it points to.) Should the deletes' commit
// fail, the entries get back the leases they had and are delivered again
// once those run out.
//
// The file holds five top-level buckets:
//
//	ids      message id -> expiry (8 bytes, unix ns, big-endian) + client system_id
//	id_exp   expiry (8) + message id -> nothing; the sweep walks it in expiry order
//	id_final earlier expiry (8) + message id -> the record's old expiry (8): ExpireIDs (final_ttl)
//	         rewrites the record and appends here, riding the next commit like acknowledgements;
//	         the sweep walks it too
//	queues   one bucket per client: sequence (8, big-endian) -> kind (1) + enqueued (8, unix ns) + frame
//	history  message id -> its trace (store.History): at most store.MaxHistory events, deleted with the id;
//	         events ride along in the next commit, like acknowledgements, and are appended
//	         to the id's bytes without decoding them
//
// A queue key is the client bucket's NextSequence, so iteration is oldest
// first and an entry id (the sequence in decimal) is never reused. Leases
// are kept in memory: they are about a live process, so after a restart
// every entry can be fetched again (delivery is at least once).
//
// Queue buckets only ever get keys past their last, and so, mostly, do
// ids and id_exp (the provider's ids ascend; expiries ascend with time):
// their pages are split full (bbolt FillPercent 1.0) rather than in
// halves, so a commit rewrites fewer, fuller pages. For ids and id_exp
// this is decided per write, from how many of its keys sort after the
// bucket's last: random ids keep bbolt's default. PutIDs sorts its ids
// and looks up only those that do not sort after every id held (the
// others cannot be held yet).
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
// The mux reads its own keys from the same table (module, dlr_ttl,
// journal, journal_max_mb, final_ttl); this module declares only the keys
// above. The mux's journal of message ids the database failed to take (a
// full disk) lives beside it by default: smpp-mux.db ->
// smpp-mux.ids.journal. On the same full disk it fails too, and the ids
// are kept in memory only. ExpireIDs (the mux's final_ttl) costs no commit
// of its own: the next commit rewrites the id's record with the earlier
// expiry and appends one id_final key, leaving its id_exp key for the
// sweep to drop; LookupID does not find it past the earlier expiry, and
// the first sweep after that removes it.
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
// included, after the acknowledgements queued so far are committed), ids held (a count kept in memory: approximate), Dropped
// (entries removed past retention or the cap since start) and Expired
// (ids removed past their expiry since start); the mux exports them on
// /metrics and /status. Each sweep that drops entries logs one Warn line
// with counts per client; a failed sweep logs at Error.
//
// Start reading at Store in bolt.go, then queue.go, ack.go and batch.go.
package bolt
