// Package netaddr checks a TCP address as the commands take it, before
// anything listens on it or dials it, so that a mistake is told at the
// command line rather than when the service behind it answers.
package netaddr

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Check refuses an address that is not host:port with a port number from 0
// to 65535 (an IPv6 host in brackets; an empty host, ":27380", is every
// address of the machine to listen on). The host is not looked up: a name
// that does not resolve is still found only when it is used.
func Check(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			err = errors.New(ae.Err) // SplitHostPort's own message repeats the address
		}
		return fmt.Errorf("want host:port (%v)", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	return nil
}
