package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by a Store after Close.
var ErrClosed = errors.New("store: closed")

// IDRecord says which client a provider message id belongs to, until when.
type IDRecord struct {
	ID      string // normalised message id (see mux.IDKey)
	Client  string // system_id of the client
	Expires time.Time
}

// Kind tells a delivery report from a mobile originated message.
type Kind uint8

// Kinds of queued items.
const (
	KindReport Kind = 1 // deliver_sm with a delivery receipt
	KindMO     Kind = 2 // mobile originated deliver_sm
)

// Item is one deliver_sm to queue for a client. Frame is the whole PDU as
// the provider sent it; only its sequence number changes on delivery.
type Item struct {
	Client string
	Kind   Kind
	Frame  []byte
}

// Entry is a queued item as fetched for delivery.
type Entry struct {
	ID       string // opaque, unique within the client's queue
	Kind     Kind
	Frame    []byte // owned by the caller
	Enqueued time.Time
}

// Store keeps message ids and per-client queues. Every method is safe for
// concurrent use, may be called from any goroutine, and returns only after
// its effect is as durable as the implementation promises (fsync for
// store.bolt, the server's acknowledgement for
// store.redis), with one exception allowed: Ack (see there). Callers batch
// their calls (group commit); an implementation must not assume one item
// per call.
type Store interface {
	// PutIDs records message ids. The mux calls it before a client sees
	// its submit_sm_resp.
	PutIDs(ctx context.Context, recs []IDRecord) error

	// LookupID returns the client of a normalised message id.
	LookupID(ctx context.Context, id string) (client string, ok bool, err error)

	// Enqueue appends items to their clients' queues. The mux calls it
	// before it answers the provider's deliver_sm.
	Enqueue(ctx context.Context, items []Item) error

	// Fetch leases up to max entries of the client's queue that no one
	// holds a lease on, oldest first. A lease ends with Ack, Release, or
	// after lease has passed (the holder died), when the entry is fetched
	// again: delivery is at least once.
	Fetch(ctx context.Context, client string, max int, lease time.Duration) ([]Entry, error)

	// Ack removes delivered entries for good. They are never fetched
	// again by this process once Ack returns, but an implementation may
	// make the removal durable later (store.bolt commits it with the next
	// write, or within milliseconds): a crash in between only makes the
	// entries be fetched, and delivered, again, which at-least-once
	// delivery allows. Nothing else may be lost or damaged by it.
	Ack(ctx context.Context, client string, ids []string) error

	// Release ends the lease of entries that were not delivered, so they
	// are fetched again at once.
	Release(ctx context.Context, client string, ids []string) error

	// Stats returns queue depths and counters for /status and /metrics.
	Stats(ctx context.Context) (Stats, error)

	// Close releases the store's resources. Methods then return ErrClosed.
	Close() error
}

// IDBatchLookup is implemented by stores that look up many message ids
// at once for less than one LookupID each (one read transaction, one
// round trip). The mux uses it, when the store has it, for the receipts
// of a batch.
type IDBatchLookup interface {
	// LookupIDs is LookupID for each of ids: clients[i] and found[i]
	// answer ids[i]. Both slices have len(ids) elements when err is nil.
	LookupIDs(ctx context.Context, ids []string) (clients []string, found []bool, err error)
}

// JointWriter is implemented by stores that make a batch of message ids
// and a batch of queue items durable in one write: store.bolt commits
// them in one transaction, with the fsyncs of one commit, where PutIDs and
// Enqueue called apart often take a commit each, one after the other. The
// mux uses it when its id batch and its report batch are ready together.
type JointWriter interface {
	// PutIDsEnqueue does PutIDs(ctx, recs) and Enqueue(ctx, items)
	// together and returns what each of them would return: one failing
	// does not fail the other. Either slice may be empty.
	PutIDsEnqueue(ctx context.Context, recs []IDRecord, items []Item) (idsErr, itemsErr error)
}

// LeasedEnqueuer is implemented by stores that can enqueue entries
// already leased to the caller, as if its Fetch had just returned them:
// the mux hands a report to its client's bound session at once, and the
// entry only waits in the store for its acknowledgement (one write in,
// one delete out) instead of being fetched first. A leased entry behaves
// like a fetched one: Ack removes it, Release makes it fetchable at once,
// and when its lease runs out (the holder died, the client never
// answered) Fetch returns it again. No Fetch returns it while its lease
// holds, including one that runs while EnqueueLeased is writing it.
type LeasedEnqueuer interface {
	// EnqueueLeased is Enqueue, except that each item with leased[i]
	// true is stored leased for lease; ids[i] is then its entry's id
	// ("" for the others). leased has len(items) elements.
	EnqueueLeased(ctx context.Context, items []Item, leased []bool, lease time.Duration) (ids []string, err error)
}

// LeasedJointWriter is a JointWriter whose joint write can lease items
// as LeasedEnqueuer does. The mux uses it, when the store has it, for
// the joint writes of reports it hands to bound clients.
type LeasedJointWriter interface {
	// PutIDsEnqueueLeased is PutIDsEnqueue with the items written as
	// EnqueueLeased(ctx, items, leased, lease) writes them.
	PutIDsEnqueueLeased(ctx context.Context, recs []IDRecord, items []Item, leased []bool, lease time.Duration) (ids []string, idsErr, itemsErr error)
}

// LocalFile is implemented by stores that keep their data in a local
// file (store.bolt). The mux keeps its journal of the message ids the
// store failed to write beside it, unless [store] journal says otherwise.
type LocalFile interface {
	// File returns the path of the store's file, once provisioned.
	File() string
}

// Notifier is implemented by stores that several mux instances share
// (store.redis): it tells an instance that another one enqueued items for
// a client, so that the client's dispatcher fetches them at once rather
// than at its next poll. Each instance wakes its own dispatchers after
// its own Enqueue; notifications are a hint, not a delivery promise: the
// poll stays as the safety net.
type Notifier interface {
	// Subscribe calls wake, from the one goroutine that runs Subscribe,
	// with the client of every Enqueue by another instance that added
	// items to that client's queue, until ctx ends or the store is
	// closed; then it returns nil. Whenever notifications may have been
	// missed (at the first subscription, and after every reconnect) it
	// calls wake with AllClients. wake must not block for long: it only
	// wakes dispatchers. An error means Subscribe could not start at all.
	Subscribe(ctx context.Context, wake func(client string)) error
}

// AllClients is the client a Notifier passes to wake when every client
// should look at its queue: notifications may have been missed.
const AllClients = ""

// IDExpirer is implemented by stores that can bring the expiry of message
// ids forward. The mux calls it once per batch of receipts, after they
// are stored, with the ids whose receipt had a final state (DELIVRD,
// UNDELIV, ...): no further receipt is expected for them, only a late
// duplicate, so keeping them for the whole dlr_ttl only costs memory.
type IDExpirer interface {
	// ExpireIDs sets the expiry of each of ids that the store holds to
	// at, unless it already expires before at: an expiry is never
	// extended. Unknown ids are ignored. It need not be durable: a crash
	// that loses it only leaves ids their longer expiry.
	ExpireIDs(ctx context.Context, ids []string, at time.Time) error
}

// Stats is a snapshot of a store.
type Stats struct {
	IDs     int            // message ids held (approximate where costly)
	Queued  map[string]int // entries per client, leased ones included
	Dropped uint64         // entries removed past retention or a queue cap
	Expired uint64         // ids removed past their expiry
}

// Limits are the retention rules every store applies in its sweep. They
// are also the keys retention, queue_cap and sweep of a store module's
// table: each store module embeds Limits, and Defaults is the one place
// of their defaults, the provider's own: 25,000 reports for 48 hours.
type Limits struct {
	Retention time.Duration `toml:"retention"` // queue entries older than this are dropped; default 48h
	QueueCap  int           `toml:"queue_cap"` // entries per client; the oldest beyond it are dropped; default 25000
	Sweep     time.Duration `toml:"sweep"`     // how often the sweep runs; default 1m
}

// Invalid returns what Defaults cannot fix: a negative queue_cap. A store
// module's Validate prefixes it with the module's ID.
func (l Limits) Invalid() error {
	if l.QueueCap < 0 {
		return fmt.Errorf("queue_cap %d is negative", l.QueueCap)
	}
	return nil
}

// Defaults fills zero fields.
func (l *Limits) Defaults() {
	if l.Retention <= 0 {
		l.Retention = 48 * time.Hour
	}
	if l.QueueCap <= 0 {
		l.QueueCap = 25000
	}
	if l.Sweep <= 0 {
		l.Sweep = time.Minute
	}
}
