//go:build !unix

package link

import (
	"net"
	"syscall"
)

// rawConnOf returns nil: off Unix every read holds its buffer.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func readFD(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }
