package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// serveOwn serves h on a listener of its own at addr, the value of the
// command's flag flag, in the background. It returns once the listener is
// open, so that an address in use is an error at once, not a log line once
// the command runs (Listen's); it returns the server, which the caller
// shuts down, and the address it listens on (port 0 picks a free port).
// orElse, when not "", is the other way out the error offers after
// Listen's fix ("leave it empty for no profiling").
//
// The listener is the server's by the time serveOwn returns: its Serve,
// in the goroutine that serves, has taken it (it accepts), so the server's
// Close and Shutdown close it before they return and the port is free
// then. Returning as soon as that goroutine started would leave it the
// listener's only owner until its Serve ran: a Close that came first
// would find no listener to close, and the port would stay taken until
// that goroutine's Serve returned.
func serveOwn(flag, addr, orElse string, h http.Handler, log *slog.Logger) (*http.Server, net.Addr, error) {
	ln, err := Listen(flag, addr)
	if err != nil {
		if orElse != "" {
			err = fmt.Errorf("%w, or %s", err, orElse)
		}
		return nil, nil, err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	taken := &takenListener{Listener: ln, accepting: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(taken) }()
	select {
	case <-taken.accepting:
		return srv, ln.Addr(), nil
	case err := <-served: // Serve gave up before it accepted, having closed ln
		return nil, nil, fmt.Errorf("%s %s: serve: %w", flag, addr, err)
	}
}

// takenListener is a listener that says when it is first asked to accept
// (accepting closes): by then http.Server.Serve has taken it, so that the
// server's Close and Shutdown close it.
type takenListener struct {
	net.Listener
	once      sync.Once
	accepting chan struct{}
}

func (l *takenListener) Accept() (net.Conn, error) {
	l.once.Do(func() { close(l.accepting) })
	return l.Listener.Accept()
}

// Listen listens on the TCP address addr, the value of the command's flag
// flag (such as "--listen"), for a listener the caller closes. Its error
// (listenError's) names flag and addr and gives the fix, the same for
// every command's listening flag: for a port in use, that another process
// listens on that port and another port (HOST:0 picks a free one, logged);
// else another address. A caller with another way out appends it:
// fmt.Errorf("%w, or leave it empty", err).
func Listen(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError(flag, addr, err)
	}
	return ln, nil
}

// listenError is the error of listening on addr, the value of the flag
// flag, that failed with err: it names flag and addr, and the fix: for a
// port in use (EADDRINUSE), that another process listens on it and
// another port (HOST:0 picks a free one, logged), else another address.
func listenError(flag, addr string, err error) error {
	fix := "give " + flag + " another address"
	if errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(addr) // listen split it
		fix = fmt.Sprintf("another process listens on that port: give %s another port (%s picks a free one, logged)", flag, net.JoinHostPort(host, "0"))
	}
	return fmt.Errorf("%s %s: %w: %s", flag, addr, err, fix)
}
