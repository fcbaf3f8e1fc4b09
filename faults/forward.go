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
// out) until Unstall lets what was held through. StallReplies holds the
// server's replies only: the server runs every command it is sent, and
// the caller hears of none.
type Forwarder struct {
	Addr string // where it listens
	to   string

	mu    sync.Mutex // guards ln, conns, closed, gates
	ln    net.Listener
	conns map[net.Conn]struct{} // both ends of every forwarded connection
	// closed is set by Close: nothing new is accepted or started.
	closed bool
	// gates are closed while bytes flow, towards the server (toServer)
	// and back (fromServer); Stall replaces them with open ones.
	gates [2]chan struct{}

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
	f := &Forwarder{Addr: ln.Addr().String(), to: to, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	for i := range f.gates {
		f.gates[i] = make(chan struct{})
		close(f.gates[i])
	}
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
		f.wg.Go(func() { f.pipe(c, up, fromServer) })
		f.wg.Go(func() { f.pipe(up, c, toServer) })
		f.mu.Unlock()
	}
}

// Directions of the bytes through a Forwarder.
const (
	toServer   = 0
	fromServer = 1
)

// pipe copies from src to dst, in direction dir, until either ends, then
// closes both. What it reads while dir is stalled waits for Unstall.
func (f *Forwarder) pipe(dst, src net.Conn, dir int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-f.flowing(dir):
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

func (f *Forwarder) flowing(dir int) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gates[dir]
}

// Stall holds every byte in either direction until Unstall.
func (f *Forwarder) Stall() {
	f.stall(toServer)
	f.stall(fromServer)
}

// StallReplies holds every byte from the server until Unstall.
func (f *Forwarder) StallReplies() { f.stall(fromServer) }

func (f *Forwarder) stall(dir int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if isClosed(f.gates[dir]) {
		f.gates[dir] = make(chan struct{})
	}
}

// Unstall lets bytes flow again both ways, what was held first.
func (f *Forwarder) Unstall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.gates {
		if !isClosed(g) {
			close(g)
		}
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
