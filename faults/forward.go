package faults

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Forwarder is a TCP forwarder on 127.0.0.1 in front of one address, for
// a partition of one process from a server the others still reach. Cut
// closes its listener and every connection through it (dials to it are
// then refused, calls fail at once), Resume listens again on the same
// address. Stall is the partition that drops packets: connections stay
// open and new ones are accepted, but no byte goes either way (calls time
// out) until Unstall lets what was held through.
type Forwarder struct {
	Addr string // where it listens
	to   string

	mu    sync.Mutex // guards ln, conns, closed, gate
	ln    net.Listener
	conns map[net.Conn]struct{} // both ends of every forwarded connection
	// closed is set by Close: nothing new is accepted or started.
	closed bool
	// gate is closed while bytes flow; Stall replaces it with an open one.
	gate chan struct{}

	done chan struct{}  // closed by Close: held copies give up
	wg   sync.WaitGroup // accept loops and copy goroutines
}

// StartForwarder listens on a free 127.0.0.1 port and forwards every
// connection to to; t.Cleanup closes it and waits for its goroutines.
func StartForwarder(t TB, to string) *Forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("forwarder listen: %v", err)
	}
	f := &Forwarder{Addr: ln.Addr().String(), to: to, conns: map[net.Conn]struct{}{}, gate: make(chan struct{}), done: make(chan struct{})}
	close(f.gate)
	f.ln = ln
	f.wg.Go(func() { f.accept(ln) })
	t.Cleanup(f.Close)
	return f
}

func (f *Forwarder) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Cut or Close
		}
		up, err := net.DialTimeout("tcp", f.to, time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		f.mu.Lock()
		if f.closed || f.ln != ln {
			f.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			continue
		}
		f.conns[c], f.conns[up] = struct{}{}, struct{}{}
		f.wg.Go(func() { f.pipe(c, up) })
		f.wg.Go(func() { f.pipe(up, c) })
		f.mu.Unlock()
	}
}

// pipe copies from src to dst until either ends, then closes both. What
// it reads while the forwarder is stalled waits for Unstall.
func (f *Forwarder) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-f.flowing():
			case <-f.done:
				err = io.EOF
			}
			if err == nil {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	f.mu.Lock()
	delete(f.conns, dst)
	delete(f.conns, src)
	f.mu.Unlock()
}

func (f *Forwarder) flowing() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gate
}

// Stall holds every byte in either direction until Unstall.
func (f *Forwarder) Stall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if isClosed(f.gate) {
		f.gate = make(chan struct{})
	}
}

// Unstall lets bytes flow again, what was held first.
func (f *Forwarder) Unstall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !isClosed(f.gate) {
		close(f.gate)
	}
}

// Cut closes the listener and every connection through the forwarder.
func (f *Forwarder) Cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutLocked()
}

func (f *Forwarder) cutLocked() {
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		_ = c.Close()
	}
}

// Resume listens again on the forwarder's address after Cut.
func (f *Forwarder) Resume() error {
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger a moment
		if ln, err = net.Listen("tcp", f.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		_ = ln.Close()
		return errors.New("forwarder closed")
	}
	if f.ln != nil {
		_ = ln.Close()
		return errors.New("forwarder not cut")
	}
	f.ln = ln
	f.wg.Go(func() { f.accept(ln) })
	return nil
}

// Close cuts the forwarder for good and waits for its goroutines.
func (f *Forwarder) Close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
	f.cutLocked()
	f.mu.Unlock()
	f.wg.Wait()
}
