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
	n      int       // failures since first
	first  time.Time // start of the counting period
	locked time.Time // zero, or the end of the lockout
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
	f, ok := l.ips[ip]
	if !ok || f.locked.IsZero() {
		return false
	}
	if now.Before(f.locked) {
		return true
	}
	delete(l.ips, ip) // lockout over: start afresh
	return false
}

// Fail records a failed bind from ip and reports whether it has just locked
// ip out, so that the caller logs once per lockout.
func (l *lockout) Fail(ip netip.Addr, now time.Time) (lockedNow bool, until time.Time) {
	if l.limit <= 0 {
		return false, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.ips[ip]
	if !ok || now.Sub(f.first) > l.period && f.locked.IsZero() {
		if len(l.ips) >= l.nextSweep {
			l.sweepLocked(now)
		}
		f = &bindFails{first: now}
		l.ips[ip] = f
	}
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

// sweepLocked drops records whose counting period and lockout are over.
func (l *lockout) sweepLocked(now time.Time) {
	for ip, f := range l.ips {
		if f.locked.IsZero() && now.Sub(f.first) > l.period || !f.locked.IsZero() && !now.Before(f.locked) {
			delete(l.ips, ip)
		}
	}
	l.nextSweep = max(1024, 2*len(l.ips))
}
