package link

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// readBufSize is the size of the pooled read buffers: one read syscall
// brings up to this much, about a hundred submit_sm under load.
const readBufSize = 8 << 10

// Buffer pools. A read buffer is held only while input waits to be handled;
// a write buffer only while frames wait to be written.
var (
	readBufs  sync.Pool // *[]byte of cap readBufSize
	writeBufs sync.Pool // *[]byte of cap up to maxPooledWrite
)

// maxPooledWrite is the largest write buffer put back in the pool; a
// bigger one (a burst to a slow peer) is left to the garbage collector.
const maxPooledWrite = 64 << 10

// buffersHeld counts read buffers taken from the pool and not yet given
// back, for tests.
var buffersHeld atomic.Int64

func getBuf(pool *sync.Pool, n int) []byte {
	if v := pool.Get(); v != nil {
		if b := *v.(*[]byte); cap(b) >= n {
			return b[:0]
		}
	}
	return make([]byte, 0, max(n, 4<<10))
}

func putBuf(pool *sync.Pool, b []byte) {
	if b == nil || cap(b) > maxPooledWrite {
		return
	}
	b = b[:0]
	pool.Put(&b)
}

// reader cuts frames out of a connection's input. While nothing read is
// left to handle it holds no buffer: on a plain socket it waits for
// readability in the network poller (syscall.RawConn) and takes a buffer
// only to read what arrived; on other connections (TLS, pipes) it waits
// in a read of at most one header, into an array of its own.
type reader struct {
	nc       net.Conn
	raw      syscall.RawConn // nil when nc is not a plain socket
	max      uint32          // largest command_length accepted
	lastRead *atomic.Int64   // unix nanos of the last read that brought input

	buf  []byte // buf[r:w] is read and not yet handed out; nil when idle
	r, w int

	small  [pdu.HeaderLen]byte   // smallRead's array
	readFn func(fd uintptr) bool // rd.readSocket
	need   int                   // readSocket's argument
	err    error                 // readSocket's result
}

// next returns the next whole frame. The frame is a view into the reader's
// buffer, valid until the next call. A command_length below 16 or above max
// is a *pdu.LengthError.
func (rd *reader) next() ([]byte, error) {
	for {
		need := pdu.HeaderLen
		if n := rd.w - rd.r; n >= pdu.HeaderLen {
			h, _ := pdu.DecodeHeader(rd.buf[rd.r:rd.w])
			switch {
			case h.Length < pdu.HeaderLen:
				return nil, &pdu.LengthError{Header: h, Max: rd.max, Err: pdu.ErrShortLength}
			case h.Length > rd.max:
				return nil, &pdu.LengthError{Header: h, Max: rd.max, Err: pdu.ErrTooLong}
			}
			if l := int(h.Length); n >= l {
				f := rd.buf[rd.r : rd.r+l : rd.r+l]
				rd.r += l
				return f, nil
			}
			need = int(h.Length)
		}
		if err := rd.fill(need); err != nil {
			if err == io.EOF && rd.r != rd.w {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// fill reads once, so that buf[r:] can hold need octets.
func (rd *reader) fill(need int) error {
	if rd.r == rd.w {
		// Everything read has been handled: give the buffer back while
		// waiting for more.
		rd.release()
		if rd.raw != nil {
			return rd.rawRead(need)
		}
		return rd.smallRead()
	}
	rd.reserve(need)
	n, err := rd.nc.Read(rd.buf[rd.w:cap(rd.buf)])
	if n > 0 {
		rd.w += n
		rd.lastRead.Store(time.Now().UnixNano())
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// smallRead waits for input on a connection that is not a plain socket
// (TLS) with a header-sized array instead of a buffer; what it reads goes
// into a pooled buffer. A TLS connection keeps the rest of its record
// decrypted, so the reads that follow cost no more syscalls.
func (rd *reader) smallRead() error {
	n, err := rd.nc.Read(rd.small[:])
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	rd.reserve(pdu.HeaderLen)
	rd.w = copy(rd.buf, rd.small[:n])
	rd.lastRead.Store(time.Now().UnixNano())
	return nil
}

// rawRead waits for the socket to be readable without holding a buffer,
// then reads into one from the pool.
func (rd *reader) rawRead(need int) error {
	rd.need, rd.err = need, nil
	if rd.readFn == nil {
		rd.readFn = rd.readSocket // made once: a method value allocates
	}
	if err := rd.raw.Read(rd.readFn); err != nil {
		return err
	}
	if rd.err == nil {
		rd.lastRead.Store(time.Now().UnixNano())
	}
	return rd.err
}

// readSocket is rawRead's callback: it reads what the socket has, or
// reports false (wait in the poller) with the buffer given back.
func (rd *reader) readSocket(fd uintptr) bool {
	rd.reserve(rd.need)
	for {
		n, err := readFD(fd, rd.buf[rd.w:cap(rd.buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			rd.release()
			return false
		case err != nil:
			rd.err = &net.OpError{Op: "read", Net: "tcp", Addr: rd.nc.RemoteAddr(), Err: err}
		case n == 0:
			rd.err = io.EOF
		default:
			rd.w += n
		}
		return true
	}
}

// reserve makes buf[r:] able to hold need octets: it takes a buffer from
// the pool, moves what is left to the front, or grows past the pool's size
// for a frame bigger than it.
func (rd *reader) reserve(need int) {
	if rd.buf == nil {
		rd.buf = getReadBuf()
		rd.r, rd.w = 0, 0
	}
	if rd.r > 0 && rd.r+need > cap(rd.buf) {
		rd.w = copy(rd.buf[:cap(rd.buf)], rd.buf[rd.r:rd.w])
		rd.r = 0
	}
	if need > cap(rd.buf) {
		nb := make([]byte, need)
		rd.w = copy(nb, rd.buf[rd.r:rd.w])
		rd.r = 0
		rd.putReadBuf()
		rd.buf = nb
	}
}

// release gives the buffer back; only when nothing in it is unhandled.
func (rd *reader) release() {
	if rd.buf != nil && rd.r == rd.w {
		rd.putReadBuf()
		rd.buf = nil
		rd.r, rd.w = 0, 0
	}
}

// close gives the buffer back whatever it holds: the connection is over.
func (rd *reader) close() {
	if rd.buf != nil {
		rd.putReadBuf()
		rd.buf = nil
	}
}

func getReadBuf() []byte {
	buffersHeld.Add(1)
	if v := readBufs.Get(); v != nil {
		return *v.(*[]byte)
	}
	return make([]byte, readBufSize)
}

// putReadBuf returns a pool buffer; a bigger one made for a big frame is
// dropped.
func (rd *reader) putReadBuf() {
	if cap(rd.buf) != readBufSize {
		return
	}
	buffersHeld.Add(-1)
	b := rd.buf[:readBufSize]
	readBufs.Put(&b)
}

// discard reads and drops input until the connection fails: after a
// command_length error, until the closing writer's read deadline.
func (rd *reader) discard() {
	rd.r, rd.w = 0, 0
	for {
		rd.reserve(pdu.HeaderLen)
		rd.r, rd.w = 0, 0
		if _, err := rd.nc.Read(rd.buf[:cap(rd.buf)]); err != nil {
			return
		}
	}
}
