package faults

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Bucket is the width of one throughput bucket.
const Bucket = 100 * time.Millisecond

// Ledger accounts for every submit_sm the load driver sent and every
// receipt it received, keyed by message id. Its methods are safe for
// concurrent use by the driver's goroutines.
type Ledger struct {
	start time.Time
	// okSteady counts ESME_ROK answers to steady clients per Bucket since
	// start: the throughput that recovery is measured on.
	okSteady []atomic.Int64
	// maxLat is the longest submit_sm round trip a steady client saw per
	// Bucket (by the time of the answer), in nanoseconds.
	maxLat []atomic.Int64

	mu         sync.Mutex // guards the fields below
	sent       int
	answered   int
	byStatus   map[pdu.Status]int
	timedOut   int                  // no answer within the client's timeout, connection still up
	connLost   int                  // in flight when the connection ended, not killed, not abandoned
	lostToKill int                  // in flight when the mux was killed -9 (documented: nobody answers)
	abandoned  int                  // in flight when the client itself dropped the connection
	owner      map[string]string    // accepted id (registered_delivery) -> tenant
	got        map[string]int       // id -> receipts acknowledged
	gotBy      map[string]string    // id -> tenant that received it (first)
	misrouted  int                  // receipts received by a tenant that did not submit the id
	kills      []time.Time          // when the mux was killed -9
	firstAt    map[string]time.Time // id -> when its first receipt came
	acceptedAt map[string]time.Time // accepted id -> when its submit_sm_resp came
	via        map[string]string    // accepted id -> the mux instance it was submitted through, when the client says
	dupAt      []time.Duration      // duplicate receipt times after their first
	dupSoonest time.Duration        // the shortest of those times, over every duplicate
	notes      []string
}

// NewLedger returns a Ledger whose throughput buckets cover span.
func NewLedger(span time.Duration) *Ledger {
	return &Ledger{
		start:    time.Now(),
		okSteady: make([]atomic.Int64, int(span/Bucket)+1),
		maxLat:   make([]atomic.Int64, int(span/Bucket)+1),
		byStatus: map[pdu.Status]int{},
		owner:    map[string]string{},
		got:      map[string]int{},
		gotBy:    map[string]string{},
		firstAt:  map[string]time.Time{},

		acceptedAt: map[string]time.Time{},
		via:        map[string]string{},
	}
}

// Start is when the ledger began; bucket times count from it.
func (l *Ledger) Start() time.Time { return l.start }

func (l *Ledger) submitted() {
	l.mu.Lock()
	l.sent++
	l.mu.Unlock()
}

// answer records a submit_sm_resp (or generic_nack) for a submit that
// was sent lat ago through the mux instance via ("" when there is one).
func (l *Ledger) answer(tenant, via string, steady bool, st pdu.Status, id string, registered bool, lat time.Duration) {
	now := time.Now()
	if steady {
		if i := int(now.Sub(l.start) / Bucket); i < len(l.okSteady) {
			if st == pdu.StatusOK {
				l.okSteady[i].Add(1)
			}
			for m := l.maxLat[i].Load(); int64(lat) > m && !l.maxLat[i].CompareAndSwap(m, int64(lat)); m = l.maxLat[i].Load() {
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answered++
	l.byStatus[st]++
	if st == pdu.StatusOK && registered && id != "" {
		l.owner[id] = tenant
		l.acceptedAt[id] = now
		if via != "" {
			l.via[id] = via
		}
		if by, ok := l.gotBy[id]; ok && by != tenant {
			l.misrouted++ // the receipt raced its response to another tenant
		}
	}
}

// receipt records a receipt acknowledged by tenant.
func (l *Ledger) receipt(tenant, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got[id]++
	if _, ok := l.gotBy[id]; !ok {
		l.gotBy[id] = tenant
		l.firstAt[id] = time.Now()
	} else {
		after := time.Since(l.firstAt[id]).Round(time.Millisecond)
		if l.dupSoonest == 0 || after < l.dupSoonest {
			l.dupSoonest = after
		}
		if len(l.dupAt) < 10 {
			l.dupAt = append(l.dupAt, after)
		}
	}
	if o, ok := l.owner[id]; ok && o != tenant {
		l.misrouted++
	}
}

// connEnded accounts for the submits still in flight on a connection that
// was dialled at dialed and ended now.
func (l *Ledger) connEnded(dialed time.Time, inflight int, abandon bool) {
	if inflight == 0 {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case abandon:
		l.abandoned += inflight
	case l.killedDuringLocked(dialed, now):
		l.lostToKill += inflight
	default:
		l.connLost += inflight
	}
}

func (l *Ledger) killedDuringLocked(from, to time.Time) bool {
	for _, k := range l.kills {
		if !k.Before(from) && !k.After(to.Add(time.Second)) {
			return true
		}
	}
	return false
}

func (l *Ledger) timedOutN(n int) {
	l.mu.Lock()
	l.timedOut += n
	l.mu.Unlock()
}

// MarkKill records that the mux is being killed -9 now: submits in flight
// on connections to it are then counted as lost to the kill.
func (l *Ledger) MarkKill() {
	l.mu.Lock()
	l.kills = append(l.kills, time.Now())
	l.mu.Unlock()
}

// Note adds a line to the figures of the run.
func (l *Ledger) Note(format string, args ...any) {
	l.mu.Lock()
	l.notes = append(l.notes, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// Counts are a Ledger's figures at one instant.
type Counts struct {
	Sent, Answered                          int
	ByStatus                                map[pdu.Status]int
	TimedOut, ConnLost, LostToKill, Abandon int
	// Unanswered is what no rule excuses: timed out or lost on a
	// connection that was neither killed nor dropped by the client.
	Unanswered                        int
	DLRExpected, DLRDelivered, DLRDup int
	// DLRDupSoonest is how soon after its first copy the quickest
	// duplicate came (0 without duplicates).
	DLRDupSoonest                  time.Duration
	DLRLost, DLRUnknown, Misrouted int
	Notes                          []string
}

// Counts returns the figures now. A receipt is expected per accepted
// submit with registered_delivery; delivered counts distinct ids
// received; lost = expected - delivered; unknown counts receipts for ids
// the client never saw accepted (their submit_sm_resp was lost to a kill
// or abandoned with its connection).
func (l *Ledger) Counts() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := Counts{
		Sent: l.sent, Answered: l.answered, ByStatus: map[pdu.Status]int{},
		TimedOut: l.timedOut, ConnLost: l.connLost, LostToKill: l.lostToKill, Abandon: l.abandoned,
		Unanswered: l.timedOut + l.connLost, Misrouted: l.misrouted,
		Notes: append([]string(nil), l.notes...), DLRDupSoonest: l.dupSoonest,
	}
	for k, v := range l.byStatus {
		c.ByStatus[k] = v
	}
	c.DLRExpected = len(l.owner)
	for id := range l.owner {
		n := l.got[id]
		if n > 0 {
			c.DLRDelivered++
			c.DLRDup += n - 1
		}
	}
	c.DLRLost = c.DLRExpected - c.DLRDelivered
	for id := range l.got {
		if _, ok := l.owner[id]; !ok {
			c.DLRUnknown++
		}
	}
	if len(l.dupAt) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("duplicates came %v after the first copy", l.dupAt))
	}
	return c
}

// Statuses formats ByStatus as "ESME_ROK 1234, ESME_RTHROTTLED 5".
func (c Counts) Statuses() string {
	keys := make([]pdu.Status, 0, len(c.ByStatus))
	for k := range c.ByStatus {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, c.ByStatus[k])
	}
	return b.String()
}

// Rate returns the steady clients' ESME_ROK answers per second over
// [from, to).
func (l *Ledger) Rate(from, to time.Time) float64 {
	i, j := l.bucket(from), l.bucket(to)
	if j <= i {
		return 0
	}
	var n int64
	for k := i; k < j; k++ {
		n += l.okSteady[k].Load()
	}
	return float64(n) / (float64(j-i) * Bucket.Seconds())
}

// MaxLatency returns the longest submit_sm round trip of a steady client
// answered over [from, to).
func (l *Ledger) MaxLatency(from, to time.Time) time.Duration {
	var m int64
	for k := l.bucket(from); k < l.bucket(to); k++ {
		m = max(m, l.maxLat[k].Load())
	}
	return time.Duration(m)
}

// ReceiptFigures are the receipts of the submits accepted over a window,
// for some tenants.
type ReceiptFigures struct {
	Expected  int           // accepted with registered_delivery
	Delivered int           // received by now
	Late      int           // not received by the deadline given (missing or after it)
	P50, P99  time.Duration // from submit_sm_resp to the first copy of the receipt
	Max       time.Duration
	Last      time.Time // when the last of the first copies came
}

// Receipts returns the figures of the receipts for submits of tenants
// (all when none is given) accepted over [from, to); a receipt counts as
// late when it came after by, or not yet.
func (l *Ledger) Receipts(from, to, by time.Time, tenants ...string) ReceiptFigures {
	return l.ReceiptsOf(from, to, by, func(tenant, _ string) bool {
		return len(tenants) == 0 || slices.Contains(tenants, tenant)
	})
}

// ReceiptsOf is Receipts for the submits that keep picks by their tenant
// and the mux instance they went through ("" when the client did not say).
func (l *Ledger) ReceiptsOf(from, to, by time.Time, keep func(tenant, via string) bool) ReceiptFigures {
	l.mu.Lock()
	defer l.mu.Unlock()
	var f ReceiptFigures
	var lats []time.Duration
	for id, at := range l.acceptedAt {
		if at.Before(from) || !at.Before(to) || !keep(l.owner[id], l.via[id]) {
			continue
		}
		f.Expected++
		first, ok := l.firstAt[id]
		if !ok || first.After(by) {
			f.Late++
		}
		if ok {
			f.Delivered++
			lats = append(lats, max(0, first.Sub(at)))
			if first.After(f.Last) {
				f.Last = first
			}
		}
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		f.P50, f.P99, f.Max = lats[len(lats)/2], lats[len(lats)*99/100], lats[len(lats)-1]
	}
	return f
}

// String formats the figures: "1200 expected, 1200 delivered (0 late), latency p50 205ms p99 230ms max 250ms".
func (f ReceiptFigures) String() string {
	r := time.Millisecond
	return fmt.Sprintf("%d expected, %d delivered (%d late), latency p50 %v p99 %v max %v",
		f.Expected, f.Delivered, f.Late, f.P50.Round(r), f.P99.Round(r), f.Max.Round(r))
}

func (l *Ledger) bucket(t time.Time) int {
	i := int(t.Sub(l.start) / Bucket)
	return max(0, min(i, len(l.okSteady)))
}

// Recovered returns how long after end the steady throughput first
// reached frac of baseline and held there: each of four consecutive
// 250ms windows from that instant at frac of baseline or more (so a
// burst of answers held back during the fault does not count as
// recovery). It looks no later than now - 1s; ok is false when the
// throughput has not recovered yet.
func (l *Ledger) Recovered(end time.Time, baseline, frac float64) (time.Duration, bool) {
	const w = 250 * time.Millisecond
	last := time.Now().Add(-4 * w)
	for t := end; !t.After(last); t = t.Add(Bucket) {
		ok := true
		for k := range 4 {
			from := t.Add(time.Duration(k) * w)
			if l.Rate(from, from.Add(w)) < frac*baseline {
				ok = false
				break
			}
		}
		if ok {
			return t.Sub(end), true
		}
	}
	return 0, false
}
