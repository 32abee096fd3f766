package cli

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serveOwn serves h on a listener of its own at addr, in the background.
// It returns once the listener is open, so that an address in use is an
// error at once, not a log line once the command runs; it returns the
// server, which the caller shuts down, and the address it listens on (port
// 0 picks a free port).
func serveOwn(addr string, h http.Handler, log *slog.Logger) (*http.Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	return srv, ln.Addr(), nil
}
