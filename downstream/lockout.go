package downstream

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// lockout counts failed binds per remote IP and locks an IP out after limit
// failures within period, for period. It keys on the IP, never on the
// system_id, so that nobody can lock a client out for everyone.
type lockout struct {
	limit  int // failures that lock; <= 0 disables
	period time.Duration

	mu        sync.Mutex // guards ips, nextSweep
	ips       map[netip.Addr]*bindFails
	nextSweep int // sweep expired entries when len(ips) reaches it
}

// bindFails is one IP's record.
type bindFails struct {
	n        int           // failures since first
	inflight int           // checks begun and not ended: each counts as a failure until it ends
	ended    chan struct{} // closed when a check ends; made for checks that wait for one
	first    time.Time     // start of the counting period
	locked   time.Time     // zero, or the end of the lockout
}

func newLockout(limit int, period time.Duration) *lockout {
	return &lockout{limit: limit, period: period, ips: make(map[netip.Addr]*bindFails), nextSweep: 1024}
}

// ipOf returns the IP of a remote address, unmapped from IPv4-in-IPv6.
func ipOf(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// Locked reports whether ip is locked out at now.
func (l *lockout) Locked(ip netip.Addr, now time.Time) bool {
	if l.limit <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lockedLocked(ip, now)
}

func (l *lockout) lockedLocked(ip netip.Addr, now time.Time) bool {
	f, ok := l.ips[ip]
	if !ok || f.locked.IsZero() {
		return false
	}
	if now.Before(f.locked) {
		return true
	}
	// Lockout over: start afresh, minding the checks still running.
	*f = bindFails{inflight: f.inflight, ended: f.ended, first: now}
	return false
}

// Begin records a bind check starting from ip. A check counts as a
// failure from its start until End, so one address runs at most limit
// checks, failed or running: the lockout bounds the work (bcrypt) an
// attacker can cause, not only the binds that fail. ok is false when the
// check may not start: ip is locked out (wait is nil), or its failures and
// running checks are at the limit; wait is then closed when one of those
// checks ends, and the caller asks again (many clients behind one address
// binding at once take turns, they are not refused).
func (l *lockout) Begin(ip netip.Addr, now time.Time) (ok bool, wait <-chan struct{}) {
	if l.limit <= 0 {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lockedLocked(ip, now) {
		return false, nil
	}
	f := l.recordLocked(ip, now)
	if f.n+f.inflight >= l.limit {
		if f.ended == nil {
			f.ended = make(chan struct{})
		}
		return false, f.ended
	}
	f.inflight++
	return true, nil
}

// End records the end of a check that Begin let start, and whether it
// failed; it reports whether that failure has just locked ip out, so that
// the caller logs once per lockout.
func (l *lockout) End(ip netip.Addr, now time.Time, failed bool) (lockedNow bool, until time.Time) {
	if l.limit <= 0 {
		return false, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.ips[ip]; ok && f.inflight > 0 {
		f.inflight--
		if f.ended != nil {
			close(f.ended)
			f.ended = nil
		}
	}
	if !failed {
		return false, time.Time{}
	}
	return l.failLocked(ip, now)
}

// Fail records a failed bind from ip that was not begun with Begin (a
// bind PDU that does not decode); it reports as End does.
func (l *lockout) Fail(ip netip.Addr, now time.Time) (lockedNow bool, until time.Time) {
	if l.limit <= 0 {
		return false, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failLocked(ip, now)
}

func (l *lockout) failLocked(ip netip.Addr, now time.Time) (lockedNow bool, until time.Time) {
	f := l.recordLocked(ip, now)
	if !f.locked.IsZero() {
		return false, f.locked
	}
	f.n++
	if f.n < l.limit {
		return false, time.Time{}
	}
	f.locked = now.Add(l.period)
	return true, f.locked
}

// recordLocked returns ip's record, new or restarted when its counting
// period is over.
func (l *lockout) recordLocked(ip netip.Addr, now time.Time) *bindFails {
	f, ok := l.ips[ip]
	switch {
	case !ok:
		if len(l.ips) >= l.nextSweep {
			l.sweepLocked(now)
		}
		f = &bindFails{first: now}
		l.ips[ip] = f
	case f.locked.IsZero() && now.Sub(f.first) > l.period:
		*f = bindFails{inflight: f.inflight, ended: f.ended, first: now}
	}
	return f
}

// sweepLocked drops records whose counting period and lockout are over.
func (l *lockout) sweepLocked(now time.Time) {
	for ip, f := range l.ips {
		if f.inflight > 0 {
			continue
		}
		if f.locked.IsZero() && now.Sub(f.first) > l.period || !f.locked.IsZero() && !now.Before(f.locked) {
			delete(l.ips, ip)
		}
	}
	l.nextSweep = max(1024, 2*len(l.ips))
}
