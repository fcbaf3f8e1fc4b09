//go:build unix

package link

import (
	"net"
	"syscall"
)

// rawConnOf returns the socket of a plain TCP or Unix connection, to wait
// for input without a buffer; nil for anything else.
func rawConnOf(nc net.Conn) syscall.RawConn {
	switch c := nc.(type) {
	case *net.TCPConn:
		if rc, err := c.SyscallConn(); err == nil {
			return rc
		}
	case *net.UnixConn:
		if rc, err := c.SyscallConn(); err == nil {
			return rc
		}
	}
	return nil
}

func readFD(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
