package cli

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
)

// PprofUsage is the help of a command's --pprof flag.
const PprofUsage = "listen address for Go profiling (/debug/pprof/); empty: off; a port in use stops the command at start. Loopback only: it exposes internals"

// ServePprof serves Go's profiling endpoints (/debug/pprof/) on a listener
// of their own at addr, the value of the command's --pprof, so they never
// share a public address; port 0 picks a free port, logged ("profiling
// endpoints listening"). It returns once the listener is open: an address
// in use is an error then, naming --pprof and addr, for the command to stop
// on at start. The caller shuts the server down.
func ServePprof(addr string, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv, at, err := serveOwn(addr, mux, log)
	if err != nil {
		return nil, fmt.Errorf("--pprof %s: %w: give --pprof a free port, or leave it empty for no profiling", addr, err)
	}
	log.Info("profiling endpoints listening", "addr", at.String())
	return srv, nil
}
