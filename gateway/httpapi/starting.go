package httpapi

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Front is the handler of the gateway's API listener from the gateway's
// start, before its API can be made (New needs the election record, which
// the gateway waits for on the ledger): until SwitchToAPI hands it the API,
// GET /healthz answers 200 (the process is alive), GET /readyz 503
// starting, GET /metrics the registry's metrics (unless
// Config.MetricsElsewhere), and every other request 503 starting, each
// error in the API's shape with Retry-After. Its gauge gateway_starting is
// 1 until then. Every request it answers itself is logged at debug level,
// as the API's access log does (not at warn, as the API's 503s are: a load
// balancer's and Prometheus' checks would flood the log), and counted in no
// metric. SwitchToAPI switches it over atomically: a connection open
// across the switch stays open, its next request answered by the API.
type Front struct {
	handler  atomic.Pointer[http.Handler]
	starting prometheus.Gauge
	cfg      Config
	log      *slog.Logger
}

// NewFront makes the front, answering as the gateway starting, and
// registers gateway_starting on reg, whose metrics it serves (the API
// made later registers its own there). Like New, it refuses a
// Config.TrustedProxies entry gin cannot parse; the client address it logs
// is the API's.
func NewFront(cfg Config, reg *prometheus.Registry, log *slog.Logger) (*Front, error) {
	cfg = cfg.withDefaults()
	g, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	f := &Front{cfg: cfg, log: log, starting: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gateway_starting",
		Help: "1 while the gateway waits at start for the election record on the ledger (its API answers 503 starting), 0 once it serves its API.",
	})}
	reg.MustRegister(f.starting)
	f.starting.Set(1)
	ids := newRequestIDs()
	g.Use(ids.set, func(c *gin.Context) {
		start := time.Now()
		c.Next()
		logRequest(log, slog.LevelDebug, c, time.Since(start))
	})
	refuse := func(c *gin.Context) {
		abortRetry(c, http.StatusServiceUnavailable, codeStarting, "the gateway is starting: it waits for the election record on the ledger", cfg.RetryAfter)
	}
	probeRoutes(g, cfg, reg, refuse)
	g.NoRoute(refuse)
	var h http.Handler = g
	f.handler.Store(&h)
	return f, nil
}

// ServeHTTP answers with the API once SwitchToAPI has been called, else as
// the gateway starting.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*f.handler.Load()).ServeHTTP(w, r)
}

// SwitchToAPI switches the front from its starting answers to api: every
// request from now on is the API's, and gateway_starting drops to 0.
func (f *Front) SwitchToAPI(api *Server) {
	h := api.Handler()
	f.handler.Store(&h)
	f.starting.Set(0)
}

// HTTPServer is the http.Server the gateway serves the front with on addr,
// from its start: Server.HTTPServer's, serving the front.
func (f *Front) HTTPServer(addr string) *http.Server {
	return httpServer(addr, f, f.cfg, f.log)
}
