//go:build !linux

package loadgen

import (
	"net"
	"time"
)

// stampedReader is Linux's only: elsewhere answers are timed when read.
type stampedReader struct{ arrived time.Time }

func newStampedReader(net.Conn) *stampedReader { return nil }

func (*stampedReader) Read([]byte) (int, error) { panic("unreachable") }
