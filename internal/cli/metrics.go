package cli

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServeMetrics serves g's metrics (GET /metrics) and a liveness answer (GET
// /healthz: 200 "ok") on a listener of their own at addr, so that an
// operator can keep them off a public address; port 0 picks a free port,
// logged ("metrics listening"). It returns once the listener is open (an
// address in use is an error then, not later, naming flag, the command's
// flag that gave addr, and addr, and for a port in use saying so with the
// fix, another port: listenError); the caller shuts the server down.
func ServeMetrics(flag, addr string, g prometheus.Gatherer, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	srv, at, err := serveOwn(flag, addr, "", mux, log)
	if err != nil {
		return nil, err
	}
	log.Info("metrics listening", "addr", at.String())
	return srv, nil
}
