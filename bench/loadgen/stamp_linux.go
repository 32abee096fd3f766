package loadgen

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// stampedReader reads a TCP connection with recvmsg and keeps the kernel's
// receive time of the data each read returned (SO_TIMESTAMPNS: the time
// the segment reached the socket, before this process was scheduled to
// read it). On loopback that is when the server's write was delivered, so
// an answer's latency taken to it leaves out how long the load generator,
// which shares the cores with the system it measures, took to get round to
// reading it. The kernel stamps packets once any socket has asked, from a
// moment after the first does until the last closes, so the first answers
// of a run may come without a time: they are timed at their read.
type stampedReader struct {
	rc      syscall.RawConn
	oob     [64]byte
	arrived time.Time // of the last read that returned data; zero if the kernel gave none
}

// newStampedReader turns on receive timestamps for nc and returns a reader
// of it that records them, or nil if nc is not a socket that can.
func newStampedReader(nc net.Conn) *stampedReader {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil
	}
	return &stampedReader{rc: rc}
}

// Read is one recvmsg, waiting through the runtime's poller (and so the
// connection's deadline) while nothing is there.
func (s *stampedReader) Read(p []byte) (int, error) {
	var n, oobn int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, s.oob[:], 0)
			if rerr != syscall.EINTR {
				return rerr != syscall.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	if t, ok := receiveTime(s.oob[:oobn]); ok {
		s.arrived = t
	}
	return n, nil
}

// receiveTime finds the SCM_TIMESTAMPNS message in oob.
func receiveTime(oob []byte) (time.Time, bool) {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < syscall.SizeofCmsghdr || l > len(oob) {
			return time.Time{}, false
		}
		data := oob[syscall.CmsgLen(0):l]
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&data[0]))
			return time.Unix(ts.Unix()), true
		}
		oob = oob[min(syscall.CmsgSpace(l-syscall.CmsgLen(0)), len(oob)):]
	}
	return time.Time{}, false
}
