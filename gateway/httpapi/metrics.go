package httpapi

import (
	"maps"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, registered on the registry
// the caller passes (never the global one).
type metrics struct {
	submitted   prometheus.Counter
	validated   *prometheus.CounterVec
	latency     prometheus.Histogram
	duplicates  prometheus.Counter
	bloomMaybe  *prometheus.CounterVec
	ledgerExact prometheus.Counter
	queueDepth  *prometheus.GaugeVec
	queueAge    *prometheus.GaugeVec
	requests    *prometheus.HistogramVec
	bloomFill   *prometheus.GaugeVec
	bloomFP     *prometheus.GaugeVec
	// ledgerReachable and ledgerLastOK are the ledger probe's outcome.
	ledgerReachable prometheus.Gauge
	ledgerLastOK    prometheus.Gauge
	// routeObs and validatedBy cache the children requests use, so a
	// request neither hashes nor checks label values.
	routeObs    children[routeKey, prometheus.Observer]
	validatedBy children[string, prometheus.Counter]
}

// statusIntakeFull is votes_validated_total's status of a vote refused
// 503 overloaded because its lane's queue for Redis was full
// (dedup.ErrBusy): Redis does not keep up with the votes. The answer's
// code is overloaded, as for a state's queue deeper than
// Config.MaxQueueDepth (status overloaded: the batchers lag), so that
// clients see one refusal while operators can tell the two limits apart.
const statusIntakeFull = "overloaded_intake"

// routeKey names a child of api_request_duration_seconds.
type routeKey struct {
	method, route string
	status        int
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		submitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votes_submitted_total",
			Help: "Vote submissions received (POST /api/v1/vote).",
		}),
		validated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votes_validated_total",
			Help: "Vote submissions answered, by status: accepted, the error code, or overloaded_intake for a 503 overloaded because the intake's queue for Redis was full (overloaded: a state's queue past --max-queue-depth).",
		}, []string{"status"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vote_validation_duration_seconds",
			Help:    "Time in seconds from receiving a vote submission to answering it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4 s
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duplicate_attempts_total",
			Help: "Votes refused because the voter's nullifier was already accepted.",
		}),
		bloomMaybe: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bloom_maybe_seen_total",
			Help: "Bloom 'maybe seen' answers resolved by the exact ledger check, by result: duplicate or false_positive.",
		}, []string{"result"}),
		ledgerExact: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledger_exact_checks_total",
			Help: "Exact duplicate checks asked of the ledger (a Bloom 'maybe seen' of a voter not recorded as voted), failed ones included.",
		}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vote_queue_depth",
			Help: "Accepted votes not yet on the ledger, per state (stream length).",
		}, []string{"state"}),
		queueAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vote_queue_oldest_age_seconds",
			Help: "Age in seconds of the oldest accepted vote not yet on the ledger, per state (the batcher's reported lag, else the stream's first entry); 0 when none waits.",
		}, []string{"state"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "api_request_duration_seconds",
			Help:    "Time in seconds to answer an HTTP request, by method, route pattern and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4 s
		}, []string{"method", "route", "code"}),
		bloomFill: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bloom_fill_ratio",
			Help: "Fraction of the state's Bloom filter bits that are set, 0 to 1.",
		}, []string{"state"}),
		bloomFP: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bloom_estimated_false_positive_rate",
			Help: "Estimated chance, 0 to 1, that a new voter tests 'maybe seen' (fill ratio ^ hashes).",
		}, []string{"state"}),
		ledgerReachable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledger_probe_reachable",
			Help: "1 when the gateway's last background read of the election record from the ledger succeeded, 0 when it failed or timed out (and before the first); readiness does not depend on it.",
		}),
		ledgerLastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledger_probe_last_success_timestamp_seconds",
			Help: "Unix time in seconds of the gateway's last successful background read of the election record from the ledger; 0 before the first.",
		}),
	}
	m.routeObs.new = func(k routeKey) prometheus.Observer {
		return m.requests.WithLabelValues(k.method, k.route, statusLabel(k.status))
	}
	m.validatedBy.new = func(status string) prometheus.Counter { return m.validated.WithLabelValues(status) }
	reg.MustRegister(m.submitted, m.validated, m.latency, m.duplicates, m.bloomMaybe, m.ledgerExact, m.queueDepth, m.queueAge, m.requests, m.bloomFill, m.bloomFP,
		m.ledgerReachable, m.ledgerLastOK)
	return m
}

// request is the api_request_duration_seconds child of a request's method,
// route pattern and status. Only matched routes' children are cached:
// their methods and statuses are few, where an unmatched request's method
// is the client's choice (methodLabel bounds it).
func (m *metrics) request(method, route string, status int) prometheus.Observer {
	if route == "" {
		return m.requests.WithLabelValues(methodLabel(method), "unmatched", statusLabel(status))
	}
	return m.routeObs.get(routeKey{method, route, status})
}

// children caches a metric vector's children by key, for keys from a small
// set: reads are a map look-up without a lock (the map is replaced, never
// modified, when a key is added).
type children[K comparable, M any] struct {
	m   atomic.Pointer[map[K]M]
	mu  sync.Mutex // serialises additions
	new func(K) M  // the child of a key not cached yet
}

func (c *children[K, M]) get(k K) M {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[K]M{}
	if old := c.m.Load(); old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
		next = maps.Clone(*old)
	}
	v := c.new(k)
	next[k] = v
	c.m.Store(&next)
	return v
}

// methodLabel is an unmatched request's method as a metric label: one of
// the standard methods, or "other" for any other token a client may send,
// so a scanner cannot grow the number of series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}
