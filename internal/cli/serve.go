package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
func serveOwn(flag, addr, orElse string, h http.Handler, log *slog.Logger) (*http.Server, net.Addr, error) {
	ln, err := Listen(flag, addr)
	if err != nil {
		if orElse != "" {
			err = fmt.Errorf("%w, or %s", err, orElse)
		}
		return nil, nil, err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	return srv, ln.Addr(), nil
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
