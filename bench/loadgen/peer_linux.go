package loadgen

import (
	"net"
	"syscall"
)

// peerOpen reports whether c may still carry a request: nothing is waiting
// to be read on it, neither the server's close nor an answer nobody asked
// for (a peek that does not wait, one system call).
func peerOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var b [1]byte
	err = rc.Control(func(fd uintptr) {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN
	})
	return err == nil && open
}
