package cli

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// PprofUsage is the help of a command's --pprof flag.
const PprofUsage = "listen address for Go profiling (/debug/pprof/); empty: off. Loopback only: it exposes internals"

// ServePprof serves Go's profiling endpoints (/debug/pprof/) on addr, their
// own listener, so they never share a public address. It returns when the
// listener fails; a command runs it in a goroutine when --pprof is set.
func ServePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("profiling endpoints listening", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("profiling listener stopped", "err", err)
	}
}
