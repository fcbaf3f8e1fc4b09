// Package redis is the store.redis module: message ids and per-client
// report queues in Redis (6.2 or later: one server, a master behind
// Sentinels, or a Redis Cluster) that several mux instances share, on
// github.com/redis/go-redis/v9 (one UniversalClient for all three).
//
// # Name
//
// store.redis: module = "redis" in the [store] table.
//
// # Description
//
// The provider spreads reports over every bind of the account, so when
// two mux instances serve one account, a report for a message sent
// through instance A can arrive at instance B. With store.redis both see
// the same ids and queues: B finds the message id A stored, queues the
// report, and whichever instance holds a bind of the client delivers it.
//
// Keys, with prefix (default "smppmux"):
//
//	<prefix>:id:<message id>    string: client system_id, then the id's history; expires at the id's expiry (SET ... PXAT)
//	<prefix>:q:{<client>}       stream: the client's queue; fields k (kind) and f (the deliver_sm PDU)
//	<prefix>:lease:{<client>}   sorted set: entry id -> lease end (Redis clock, ms); 0 = released
//	<prefix>:seen:{<client>}:<sum> string: a report stored within 30 min (against resends)
//	<prefix>:clients            set: every client ever queued to, for the sweep and Stats
//	<prefix>:wake               pub/sub channel: "<consumer>\n<client>" when entries were queued
//	<prefix>:h:{<message id>}   list: an id's trace as earlier versions kept it: read, no longer written; expires dlr_ttl after its last event
//	<prefix>:sem:{<key>}        sorted set: a fleet-wide semaphore (store.FleetLimiter): slot id -> expiry (Redis clock, ms)
//	rate:<prefix>:gcra:{<key>}  string: a fleet-wide GCRA bucket (github.com/go-redis/redis_rate/v10, which puts "rate:" first)
//
// A client's keys share the hash tag {<client>}, so they sit in one slot
// of a Redis Cluster and one script may touch them; on a cluster every
// script call and every multi-key command touches the keys of one client
// (or one id) only. Ids are single-key commands there and spread over
// every slot; so do batches, sent as pipelines that go-redis splits by
// node. On one server (url, or the master behind Sentinels), where any
// keys may go together, what spans ids takes a batch in one command, up
// to 256 ids: LookupIDs one MGET, ExpireIDs and AddEvents one script
// call, so that a batch costs one command where it costs one per id on
// a cluster. The clients set is one
// key, used on its own: each instance adds a client once (and all its
// clients again at each sweep, in case the set was lost), and reads it
// at the sweep and in Stats; nothing else needs one keyspace (no DBSIZE,
// no SCAN). Each queue stream has one
// consumer group, "mux"; each instance is a consumer named
// hostname-pid-random. An entry's id is its stream id ("ms-seq"), so its
// time (Entry.Enqueued) is the Redis clock at XADD.
//
// Durability is Redis's own: a call returns after Redis acknowledged its
// writes, and what an acknowledgement is worth depends on the server's
// persistence. Run Redis with appendonly yes and appendfsync everysec
// (a crash may lose the last second) or always (nothing acknowledged is
// lost); without persistence a Redis restart loses every queued report.
// PutIDs writes one SET per id and Enqueue one script call per client of
// the batch, each batch in one pipeline, not in MULTI (a batch spans
// clients, so slots): when part of a batch fails, the call fails and the
// part written stays; the mux then answers the provider with a temporary
// error, and the provider's resend is queued once (the seen keys).
//
// Every script is loaded at open (on every master of a cluster) and run
// by its SHA (EVALSHA); a server that lost it (a restart, a failover)
// answers NOSCRIPT and gets the source once (EVAL). Fetch runs one script
// per call, so that two instances never lease
// one entry at once. It trims the queue past retention (XTRIM MINID),
// re-claims (XCLAIM) entries whose lease ended or was released, oldest
// first, then reads new ones (XREADGROUP ">"), and records a lease end
// for each in the leases set. Leases are kept in that set rather than
// read from the pending list's idle time (XAUTOCLAIM min-idle), because
// each Fetch names its own lease: an entry leased for 200ms must come
// back after 200ms even when the next Fetch asks for a minute. Lease ends
// use the Redis clock, so instances with skewed clocks agree. After a
// crash or restart of an instance, its leases run out and any instance
// takes the entries. Ack is one script: XACK, XDEL and the leases'
// removal. Release sets the lease end to 0, but only for entries this
// instance holds (XPENDING names the holder), so a Release that comes
// after a lease ran out and another instance took the entry changes
// nothing.
//
// Wake-ups (store.Notifier): the enqueue script publishes on the wake
// channel when it queued something for a client, and every instance
// subscribes (Subscribe), so that a report stored by one instance is
// fetched at once by the instance where its client is bound, not at its
// next one-second poll; see notify.go for why one channel and PUBLISH.
// After a reconnect (go-redis resubscribes) every client is woken once.
//
// Fleet-wide limits (store.FleetLimiter, limits.go): a semaphore is a
// sorted set of slot ids scored by their expiry on the Redis clock; one
// script drops expired slots and takes one if there is room, another
// renews (and, after an outage, re-adds) a slot. A bucket is
// redis_rate's GCRA (AllowAtMost), one key and one script call per batch
// of tokens. Each is one key whose name is its hash tag: one slot, no
// global key.
//
// Final receipts (store.IDExpirer): ExpireIDs brings the ids' expiry
// forward with PEXPIREAT (with LT on Redis 7, so never later), per batch
// in one script call (one server) or one per id in one pipeline (a
// cluster); the mux calls it per batch of receipts with a final state, so that an id costs its memory for final_ttl (1h) after
// its final receipt rather than for the whole dlr_ttl (72h). The id's
// history lives in its key, so it goes with it.
//
// History (store.History, history.go): an id's events are kept in its id
// key, after the client: each a frame of a 0x00 byte, a 2-byte length
// and the event (store.AppendEvent); a system_id holds no 0x00, so the
// client is what comes before the first, and a value with none (as
// earlier versions wrote them) is the client alone. AddEvents appends an
// id's frames with one APPEND (in a script: one call per batch on one
// server, one per id on a cluster), so an event costs one command, not
// an RPUSH and a PEXPIREAT on a list of its own, and the history expires
// with the id (PutIDs' PXAT, ExpireIDs) instead of dlr_ttl after its
// last event: Redis memory follows the ids held. An APPEND that created
// the key (an id the store does not hold, such as a receipt stored
// before its id) is undone in the script, so no key is left without an
// expiry; such events are dropped, as store.History allows. A value long
// enough to hold more than 32 events is read in the script and set again
// (KEEPTTL) with the client and the latest 32. History is one GET, and
// an LRANGE of the list h:{id} where earlier versions kept the trace, in
// the same pipeline, its events first, so that an upgrade loses no
// trace; nothing writes those lists any more, and they expire by
// themselves. Events come after their id's SET: the mux traces a submit
// after PutIDs returned, and a receipt once its id was found. PutIDs of
// an id already held (the mux writes back an id it journaled after a
// PutIDs error, which may have come after Redis did the SET) uses
// SET ... GET and appends the replaced value's events again, so that
// they are kept.
//
// Leased enqueues (store.LeasedEnqueuer, leased.go): a client's items
// the mux hands straight to its bound session are added and claimed by
// this instance's consumer in one script call (XADD, then XREADGROUP of
// exactly the added entries, leases in the leases set), but only when
// the group has read the whole queue: otherwise XREADGROUP would claim
// older entries too, and they are all added unleased, as Enqueue adds
// them.
//
// The queue cap is applied by the sweep, not by XADD MAXLEN: MAXLEN ~
// trims whole nodes and XADD does not say how many it removed, so drops
// would go uncounted. One goroutine per instance, started by Provision
// (or Open) and stopped by Cleanup (or Close), runs the sweep once per
// sweep interval over the clients set: XTRIM MINID <now - retention>
// (by the Redis clock) then XTRIM MAXLEN <queue_cap> (exact), counting
// what each reply says it removed; it also deletes consumers of other
// instances that hold nothing and were idle for 24h. Every instance
// sweeps; trimming is idempotent, and each counts its own removals.
// A queue may exceed its cap by what arrives within one sweep interval.
// Clients are found through the clients set, not SCAN: SCAN would walk
// every message id key.
//
// Errors: the url or addrs are checked at Provision; Redis that cannot
// be reached (or is older than 6.2) fails Provision with an error naming
// the url or addrs, passwords redacted, since a config error is better
// found at start.
// Afterwards outages are tolerated: every call is bounded by timeout and
// returns an error meanwhile (the mux answers temporary errors), never
// hangs and never panics; go-redis reconnects by itself, and follows
// MOVED and ASK in a cluster and failovers behind Sentinels. Passwords
// are never logged: String and the zap marshaler redact them.
//
// # Configuration
//
//	[store]
//	module    = "redis"
//	url       = "redis://127.0.0.1:6379/0" # one server: redis://[user:password@]host:port/db; rediss:// for TLS
//	# or, instead of url:
//	addrs           = []    # host:port of the Sentinels or of cluster nodes (or of one server)
//	sentinel_master = ""    # the master's name the Sentinels know: addrs are Sentinels
//	cluster         = false # addrs are cluster nodes even when there is one; several addrs without sentinel_master are anyway
//	username        = ""    # ACL user
//	password        = ""    # of the Redis servers
//	sentinel_password = ""  # of the Sentinels
//	db              = 0     # not on a cluster
//	tls             = false # TLS, trusting the system roots
//	tls_ca          = ""    # or the CAs in this PEM file
//	# and with either:
//	prefix    = "smppmux"                  # prefix of every key; no { or }
//	timeout   = "2s"                       # bound on each call (dial, read, write, pool wait)
//	retention = "48h"                      # queue entries older than this are dropped
//	queue_cap = 25000                      # entries per client; the oldest beyond it are dropped
//	sweep     = "1m"                       # how often queues are trimmed
//
// The url's query may set go-redis options (dial_timeout, read_timeout,
// pool_size, max_retries, ...); those it sets win over timeout. The url
// and addrs exclude each other, and the keys that go with addrs are
// refused beside a url, which carries its own. The mux reads its own
// keys from the same table (module, dlr_ttl, final_ttl, journal,
// journal_max_mb); this module declares only the keys above. Instances
// that share queues must share the Redis, prefix, retention and
// queue_cap, and each needs its own journal.
//
// # Example
//
//	[store]
//	module = "redis"
//	url = "rediss://:s3cret@redis.internal:6380/2"
//	retention = "72h"
//
//	[store]
//	module = "redis"
//	addrs = ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"] # a cluster
//	password = "s3cret"
//
// From Go, for tests and tools:
//
//	s, err := redis.Open(ctx, "redis://127.0.0.1:6379/0", store.Limits{}, log, redis.WithPrefix("test"))
//	if err != nil { ... }
//	defer s.Close()
//
// # Metrics and Stats
//
// Stats reports queue depths per client (XLEN, leased entries included,
// the same on every instance), IDs (the ids this instance stored that
// have not expired, to the minute: per instance, not for the whole
// Redis, as counting every instance's would take a SCAN of every node),
// Dropped (entries this instance removed past retention or the cap since
// start) and Expired (always 0: Redis expires ids itself); the mux
// exports them on /metrics and /status. Each sweep that drops entries logs one Warn line with counts
// per client.
//
// Start reading at Store in redis.go, then queue.go.
package redis
