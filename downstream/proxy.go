package downstream

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// maxProxyHeaders bounds the PROXY headers read at once; further
// connections from trusted proxies wait in the kernel's backlog.
const maxProxyHeaders = 256

// ProxyListener wraps ln for clients behind a TCP balancer. A connection
// from an address in trusted may open with a PROXY protocol header (v1 or
// v2, as HAProxy sends it): Accept returns it once the header has been
// read, within timeout, and its RemoteAddr is then the client's own
// address, which allow, the lockout, the per-address limits and the logs
// use. A connection from a trusted address without a header keeps its own
// address. A connection from anywhere else is returned as it is, its
// bytes untouched: a PROXY header from there is not honoured, and the
// session refuses it as a malformed PDU.
//
// Headers are read on goroutines of their own, so a proxy that is slow to
// send one never holds up Accept. Close closes ln, ends the header reads
// in progress and waits for them.
func ProxyListener(ln net.Listener, trusted []netip.Prefix, timeout time.Duration) net.Listener {
	l := &proxyListener{
		Listener: ln,
		trusted:  trusted,
		timeout:  timeout,
		ready:    make(chan accepted),
		done:     make(chan struct{}),
		slots:    make(chan struct{}, maxProxyHeaders),
		reading:  make(map[net.Conn]struct{}),
	}
	l.wg.Go(l.acceptLoop)
	return l
}

type proxyListener struct {
	net.Listener
	trusted []netip.Prefix
	timeout time.Duration

	ready chan accepted // connections ready for Accept, and ln's errors
	done  chan struct{} // closed by Close
	slots chan struct{} // a slot per header being read
	wg    sync.WaitGroup

	mu      sync.Mutex // guards reading, closed
	reading map[net.Conn]struct{}
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

type accepted struct {
	c   net.Conn
	err error
}

// Accept returns the next connection ready, or ln's error.
func (l *proxyListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.ready:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes ln and the connections whose header is being read, and
// waits for the listener's goroutines.
func (l *proxyListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.Listener.Close()
		l.mu.Lock()
		l.closed = true
		for c := range l.reading {
			_ = c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return l.closeErr
}

func (l *proxyListener) acceptLoop() {
	var delay time.Duration // back-off after a failed Accept (EMFILE, ...)
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			if !l.hand(accepted{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-l.done:
				return
			}
			continue
		}
		delay = 0
		if !l.fromTrusted(nc) {
			l.hand(accepted{c: nc})
			continue
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			_ = nc.Close()
			return
		}
		if !l.track(nc, true) {
			_ = nc.Close()
			return
		}
		l.wg.Go(func() {
			defer func() { <-l.slots }()
			pc := proxyproto.NewConn(nc, proxyproto.WithPolicy(proxyproto.USE), proxyproto.SetReadHeaderTimeout(l.timeout))
			_ = pc.RemoteAddr() // reads the header, if any; a bad one fails the session's first read
			l.track(nc, false)
			l.hand(accepted{c: pc})
		})
	}
}

// hand passes a to Accept; it closes a's connection and returns false
// once the listener is closed.
func (l *proxyListener) hand(a accepted) bool {
	select {
	case l.ready <- a:
		return true
	case <-l.done:
		if a.c != nil {
			_ = a.c.Close()
		}
		return false
	}
}

// track adds or removes a connection whose header is being read; it
// refuses to add one once the listener is closed.
func (l *proxyListener) track(c net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !add {
		delete(l.reading, c)
		return true
	}
	if l.closed {
		return false
	}
	l.reading[c] = struct{}{}
	return true
}

func (l *proxyListener) fromTrusted(nc net.Conn) bool {
	ip, ok := ipOf(nc.RemoteAddr())
	if !ok {
		return false
	}
	for _, p := range l.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
