package cli

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
)

// PprofUsage is the help of a command's --pprof flag.
const PprofUsage = "listen address for Go profiling (/debug/pprof/), a loopback one (127.0.0.1:PORT, [::1]:PORT or localhost:PORT; any other is refused: it exposes internals); empty: off; port 0 picks a free port, logged at start (\"profiling endpoints listening\"); a port in use stops the command at start (exit 1, naming --pprof, the address and the fix)"

// ServePprof serves Go's profiling endpoints (/debug/pprof/) on a listener
// of their own at addr, the value of the command's --pprof, so they never
// share a public address; port 0 picks a free port, logged ("profiling
// endpoints listening"). An addr that is not a loopback one (checkPprofAddr)
// is refused as a usage error before anything listens. It returns once the
// listener is open: an address in use is an error then, naming --pprof,
// addr, that the port is in use and the fix (another port, port 0, or no
// --pprof: listenError), for the command to stop on at start (exit 1, as
// PprofUsage says). The caller shuts the server down.
func ServePprof(addr string, log *slog.Logger) (*http.Server, error) {
	if err := checkPprofAddr(addr); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv, at, err := serveOwn("--pprof", addr, "leave it empty for no profiling", mux, log)
	if err != nil {
		return nil, err
	}
	log.Info("profiling endpoints listening", "addr", at.String())
	return srv, nil
}

// checkPprofAddr refuses, as a usage error naming --pprof and the fix, an
// addr that is not host:port (CheckAddr) or whose host is not a loopback
// one: an IP address in 127.0.0.0/8 or ::1, or "localhost". An empty host
// (every address of the machine) and any other name are refused: the
// endpoints show the process's memory, goroutines and command line to whoever
// reaches them.
func checkPprofAddr(addr string) error {
	if err := CheckAddr("--pprof", addr); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr) // CheckAddr split it
	if ip, err := netip.ParseAddr(host); host == "localhost" || err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return Usagef("--pprof %q: not a loopback address, and the profiling endpoints expose the process's internals: give 127.0.0.1:PORT, [::1]:PORT or localhost:PORT (and reach it from another machine through an SSH tunnel)", addr)
}
