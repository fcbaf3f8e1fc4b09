package faults

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/pdu"
)

// CrowdResult is what BindCrowd saw.
type CrowdResult struct {
	Bound, Refused, Failed int
	P50, P99, Max          time.Duration // bind latency of the bound
	FirstErr               error
}

// BindCrowd opens n connections at once, binds each as a transceiver of
// systemID (each waits at most timeout), holds them for hold, then
// unbinds and closes them all. It returns when every connection is closed.
func BindCrowd(addr, systemID, password string, n int, timeout, hold time.Duration) CrowdResult {
	var (
		mu   sync.Mutex
		res  CrowdResult
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := make(chan struct{})
	release := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			ec, err := esme.Dial(addr, systemID, password, esme.Options{Timeout: timeout, Buffer: -1})
			if err == nil {
				lat := time.Since(t0)
				mu.Lock()
				res.Bound++
				lats = append(lats, lat)
				mu.Unlock()
				<-release
				_ = ec.Close() // unbind, and a moment for unbind_resp
				return
			}
			mu.Lock()
			var se *pdu.StatusError
			if errors.As(err, &se) {
				res.Refused++
			} else {
				res.Failed++
			}
			if res.FirstErr == nil {
				res.FirstErr = err
			}
			mu.Unlock()
		})
	}
	close(start)
	time.Sleep(hold)
	// Wait (bounded) for the binds to settle before releasing them.
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		mu.Lock()
		settled := res.Bound+res.Refused+res.Failed == n
		mu.Unlock()
		if settled {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) > 0 {
		res.P50 = lats[len(lats)/2]
		res.P99 = lats[len(lats)*99/100]
		res.Max = lats[len(lats)-1]
	}
	return res
}

// GarbageResult is what Garbage did.
type GarbageResult struct {
	Conns, DialErrs int
}

// Garbage opens rate connections per second to addr for d; each writes
// one kind of garbage (random octets, an HTTP request, a TLS hello, a
// huge or tiny command_length, a half PDU) and closes at once.
func Garbage(addr string, rate int, d time.Duration) GarbageResult {
	var conns, errs atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256) // connections open at once, at most
	const step = 10 * time.Millisecond
	perStep := max(1, rate/int(time.Second/step))
	t := time.NewTicker(step)
	defer t.Stop()
	end := time.Now().Add(d)
	var k atomic.Int64
	for time.Now().Before(end) {
		<-t.C
		for range perStep {
			select {
			case sem <- struct{}{}:
			default:
				continue // the garbage maker itself is saturated; skip
			}
			wg.Go(func() {
				defer func() { <-sem }()
				nc, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					errs.Add(1)
					return
				}
				conns.Add(1)
				_ = nc.SetDeadline(time.Now().Add(time.Second))
				_, _ = nc.Write(garbage(int(k.Add(1))))
				_ = nc.Close()
			})
		}
	}
	wg.Wait()
	return GarbageResult{Conns: int(conns.Load()), DialErrs: int(errs.Load())}
}

func garbage(i int) []byte {
	switch i % 6 {
	case 0:
		b := make([]byte, 16+i%200)
		_, _ = rand.Read(b)
		return b
	case 1:
		return []byte("GET / HTTP/1.1\r\nHost: mux\r\n\r\n")
	case 2:
		return []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03} // TLS ClientHello start
	case 3:
		return binary.BigEndian.AppendUint32(nil, 0x7fffffff) // huge command_length
	case 4:
		return pdu.AppendHeaderOnly(nil, pdu.CmdEnquireLink, 0, 1)[:8] // half a header
	default:
		b := binary.BigEndian.AppendUint32(nil, 12) // command_length below 16
		return append(b, make([]byte, 12)...)
	}
}

// Disk is a small tmpfs for the embedded store, filled on demand.
type Disk struct {
	Dir    string
	filler string
	tmpfs  bool
}

// MountDisk mounts a tmpfs of size on a fresh directory (root only); ok
// is false when mounting is not possible. t.Cleanup unmounts it.
func MountDisk(t TB, size string) (*Disk, bool) {
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("mount tmpfs: %v: %s", err, out)
		return &Disk{Dir: dir}, false
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", dir, err, out)
		}
	})
	return &Disk{Dir: dir, filler: filepath.Join(dir, "filler"), tmpfs: true}, true
}

// Fill writes a file until the disk is full.
func (d *Disk) Fill() (int64, error) {
	f, err := os.Create(d.filler)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return n, nil
			}
			return n, err
		}
	}
}

// Free removes what Fill wrote.
func (d *Disk) Free() error { return os.Remove(d.filler) }

// LimitFileSize sets RLIMIT_FSIZE of a running process (root): the
// fallback full disk when tmpfs cannot be mounted. max < 0 lifts it.
func LimitFileSize(pid int, max int64) error {
	rl := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if max >= 0 {
		rl = unix.Rlimit{Cur: uint64(max), Max: unix.RLIM_INFINITY}
	}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &rl, nil); err != nil {
		return fmt.Errorf("prlimit %d: %w", pid, err)
	}
	return nil
}

// LoopbackIP returns 127.0.0.n: Linux routes all of 127.0.0.0/8 to the
// loopback interface, so a dialer bound to it is a distinct client address.
func LoopbackIP(n int) net.IP { return net.IPv4(127, 0, 0, byte(n)) }

// dialFrom dials addr from the local IP from (nil: any).
func dialFrom(from net.IP, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: localAddr(from)}
	return d.Dial("tcp", addr)
}

// FloodResult is what UnboundFlood did.
type FloodResult struct {
	Dials, DialErrs int // connections opened, and dials that failed
	Closed          int // connections the mux closed while they were held
	MostOpen        int // connections held open at once, at most
}

// UnboundFlood holds perIP connections open without binding from each of
// ips addresses (127.0.0.2 on) for d: each sends nothing, and when the mux
// closes it (a limit, an eviction, the bind timeout) it is dialled again
// after 50ms. It returns when every connection is closed.
func UnboundFlood(addr string, ips, perIP int, d time.Duration) FloodResult {
	var dials, errs, closed, open, most atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for i := range ips {
		from := LoopbackIP(2 + i)
		for range perIP {
			wg.Go(func() {
				var buf [64]byte
				for time.Now().Before(end) {
					nc, err := dialFrom(from, addr, time.Second)
					if err != nil {
						errs.Add(1)
						time.Sleep(50 * time.Millisecond) // a client's redial pause
						continue
					}
					dials.Add(1)
					n := open.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					_ = nc.SetReadDeadline(end)
					_, err = nc.Read(buf[:]) // the mux sends nothing to an unbound connection: this is its close
					open.Add(-1)
					_ = nc.Close()
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						closed.Add(1)
						time.Sleep(50 * time.Millisecond) // a client's redial pause
					}
				}
			})
		}
	}
	wg.Wait()
	return FloodResult{Dials: int(dials.Load()), DialErrs: int(errs.Load()), Closed: int(closed.Load()), MostOpen: int(most.Load())}
}

// ProbeResult is what BindProbes saw.
type ProbeResult struct {
	Tried, Bound int
	Max          time.Duration // the slowest bind that succeeded
	FirstErr     error
}

// BindProbes binds a new transceiver of systemID every interval for d,
// in turn from each of froms, each bounded by timeout, and unbinds it at
// once: the clients that come while a fault lasts.
func BindProbes(addr, systemID, password string, froms []net.IP, interval, d, timeout time.Duration) ProbeResult {
	var (
		mu  sync.Mutex
		res ProbeResult
		wg  sync.WaitGroup
	)
	t := time.NewTicker(interval)
	defer t.Stop()
	end := time.Now().Add(d)
	for k := 0; time.Now().Before(end); k++ {
		from := froms[k%len(froms)]
		wg.Go(func() {
			t0 := time.Now()
			err := probe(from, addr, systemID, password, timeout)
			mu.Lock()
			defer mu.Unlock()
			res.Tried++
			if err == nil {
				res.Bound++
				res.Max = max(res.Max, time.Since(t0))
			} else if res.FirstErr == nil {
				res.FirstErr = fmt.Errorf("from %v: %w", from, err)
			}
		})
		<-t.C
	}
	wg.Wait()
	return res
}

func probe(from net.IP, addr, systemID, password string, timeout time.Duration) error {
	ec, err := esme.Dial(addr, systemID, password, esme.Options{Timeout: timeout, Buffer: -1, LocalAddr: localAddr(from)})
	if err != nil {
		return err
	}
	_ = ec.Close() // unbind, and a moment for unbind_resp
	return nil
}

// localAddr is the address to dial from: from, or any (nil).
func localAddr(from net.IP) net.Addr {
	if from == nil {
		return nil
	}
	return &net.TCPAddr{IP: from}
}

// BurstResult counts the answers to a burst of binds by status; Failed
// are the binds that got no answer (the connection closed or timed out).
type BurstResult struct {
	ByStatus map[pdu.Status]int
	Failed   int
	Took     time.Duration // until the last one settled
}

// BindBurst opens n connections at once, spread over froms, and binds
// each as systemID with password, each bounded by timeout; it returns
// when every bind is answered or has failed.
func BindBurst(addr, systemID, password string, froms []net.IP, n int, timeout time.Duration) BurstResult {
	var (
		mu  sync.Mutex
		res = BurstResult{ByStatus: map[pdu.Status]int{}}
		wg  sync.WaitGroup
	)
	start := make(chan struct{})
	t0 := time.Now()
	for i := range n {
		from := froms[i%len(froms)]
		wg.Go(func() {
			<-start
			st, err := bindOnce(from, addr, systemID, password, timeout)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed++
			} else {
				res.ByStatus[st]++
			}
		})
	}
	close(start)
	wg.Wait()
	res.Took = time.Since(t0)
	return res
}

// bindOnce binds once from from and returns the bind's status; err is
// set when no answer came.
func bindOnce(from net.IP, addr, systemID, password string, timeout time.Duration) (pdu.Status, error) {
	ec, err := esme.Dial(addr, systemID, password, esme.Options{Timeout: timeout, Buffer: -1, LocalAddr: localAddr(from)})
	var se *pdu.StatusError
	switch {
	case err == nil:
		_ = ec.Drop()
		return pdu.StatusOK, nil
	case errors.As(err, &se):
		return se.Status, nil
	}
	return 0, err
}
