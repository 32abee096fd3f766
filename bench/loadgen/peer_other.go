//go:build !linux

package loadgen

import "net"

// peerOpen reports whether c may still carry a request; off Linux it is
// not checked, and a connection the server closed while idle ends its
// next request with errNoAnswer.
func peerOpen(net.Conn) bool { return true }
