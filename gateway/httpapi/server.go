// Package httpapi is the gateway's HTTP API (gin): vote intake, the election
// record, health, readiness, metrics and the OpenAPI document (openapi.yaml,
// served at /api/v1/openapi.yaml and kept in step with the routes by a test).
//
// /readyz is ready when the gateway can take votes: its queue (Redis)
// answers. The ledger is probed in the background and reported, not gated
// on (ledgerProbe). Until the API is made (New needs the election record),
// Front answers in its place as the gateway starting: /readyz and every
// other route but /healthz and /metrics 503 starting.
//
// The handlers validate requests and map outcomes to answers; eligibility,
// deduplication and durable storage are the intake's (package dedup), the
// election record comes from a cache over the ledger (package election).
package httpapi

import (
	"cmp"
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/dedup"
)

//go:embed openapi.yaml
var openAPI []byte

// Elections gives the current election record (cached; see election.Cache).
type Elections interface {
	Election(ctx context.Context) (*ballot.Election, error)
}

// Intake stores votes (implemented by *dedup.Deduper).
type Intake interface {
	Accept(ctx context.Context, a dedup.Attempt) (dedup.Result, error)
	QueueDepth(ctx context.Context, state string) (int64, error)
	QueueAge(ctx context.Context, state string) (time.Duration, error)
	BloomStats(ctx context.Context, state string) (dedup.BloomStats, error)
	Ping(ctx context.Context) error
}

// Deps are the server's collaborators.
type Deps struct {
	Elections Elections
	// Ledger is probed in the background (Config.LedgerProbeInterval) and
	// its state reported by /readyz and the metrics: an uncached election
	// source that reaches the ledger, honouring its context.
	Ledger   Elections
	Intake   Intake
	Results  Results
	Receipts Receipts
	// IntakeLog serves the intake log; nil when it is off (its routes
	// answer 404 log_off).
	IntakeLog IntakeLog
	Registry  *prometheus.Registry
	Log       *slog.Logger
	// VoterPage, if set, serves the voter's web page at GET /vote and its
	// files at GET /vote/static/* (package voterweb); it is not part of
	// the API and sets its own headers.
	VoterPage http.Handler
}

// Config tunes the server. Zero fields take DefaultConfig's values, except
// the rate limits, where zero means no limit.
type Config struct {
	// Secret is the election secret voter keys are derived with.
	Secret []byte
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// MaxQueueDepth is the deepest a state's queue may be before votes
	// are refused with 503 overloaded; negative turns the check off. It
	// bounds Redis memory only: intake has priority over the ledger drain,
	// so a lagging batcher (the lag it reports is the queue-age metric)
	// never slows or refuses votes by itself.
	MaxQueueDepth int64
	// RetryAfter is what 503 answers tell clients to wait.
	RetryAfter time.Duration
	// ClientRate and ClientBurst limit requests per client address (per
	// second, burst); GlobalRate and GlobalBurst limit all requests.
	ClientRate  float64
	ClientBurst int
	GlobalRate  float64
	GlobalBurst int
	// LookupRate and LookupBurst limit receipt look-ups by credentials per
	// client address, against guessing credentials (always on).
	LookupRate  float64
	LookupBurst int
	// MetricsElsewhere leaves /metrics out of the API: the gateway serves
	// it on a listener of its own (--metrics-listen), off the voters'
	// address.
	MetricsElsewhere bool
	// TrustedProxies may set X-Forwarded-For (only it: not X-Real-IP);
	// empty means the peer address is the client address.
	TrustedProxies []string
	// DepthInterval is how often queue depths are polled, BloomInterval how
	// often Bloom fill is counted (BITCOUNT is linear in the filter size).
	DepthInterval time.Duration
	BloomInterval time.Duration
	// ReadyTimeout bounds /readyz's ping of the queue (Redis).
	ReadyTimeout time.Duration
	// LedgerProbeInterval is how often the ledger is probed in the
	// background (an uncached read of the election record, Deps.Ledger),
	// and LedgerProbeTimeout bounds each probe: the outcome is reported
	// (/readyz's body, the ledger_probe_* gauges, a log line when it
	// changes), never gated on.
	LedgerProbeInterval time.Duration
	LedgerProbeTimeout  time.Duration
	// ReadHeaderTimeout bounds the arrival of a request's headers and
	// ReadTimeout of the whole request, body included (HTTPServer's
	// http.Server; every route, gin's redirects too), so slow clients cannot
	// hold connections and handlers.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// DefaultConfig returns the defaults for zero fields of Config.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:        4096,
		MaxQueueDepth:       5_000_000,
		RetryAfter:          2 * time.Second,
		DepthInterval:       500 * time.Millisecond,
		BloomInterval:       15 * time.Second,
		ReadyTimeout:        2 * time.Second,
		LedgerProbeInterval: 5 * time.Second,
		LedgerProbeTimeout:  2 * time.Second,
		ReadHeaderTimeout:   5 * time.Second,
		ReadTimeout:         10 * time.Second,
		LookupRate:          1,
		LookupBurst:         5,
		Now:                 time.Now,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, d.MaxBodyBytes)
	c.MaxQueueDepth = cmp.Or(c.MaxQueueDepth, d.MaxQueueDepth)
	c.RetryAfter = cmp.Or(c.RetryAfter, d.RetryAfter)
	c.DepthInterval = cmp.Or(c.DepthInterval, d.DepthInterval)
	c.BloomInterval = cmp.Or(c.BloomInterval, d.BloomInterval)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, d.ReadyTimeout)
	c.LedgerProbeInterval = cmp.Or(c.LedgerProbeInterval, d.LedgerProbeInterval)
	c.LedgerProbeTimeout = cmp.Or(c.LedgerProbeTimeout, d.LedgerProbeTimeout)
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, d.ReadTimeout)
	c.LookupRate = cmp.Or(c.LookupRate, d.LookupRate)
	c.LookupBurst = cmp.Or(c.LookupBurst, d.LookupBurst)
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// ctxErrorCode is the gin context's key of an error answer's code.
const ctxErrorCode = "error_code"

// ctxValidatedStatus is the gin context's key of a vote's
// votes_validated_total status where it is not the answer's error code
// (statusIntakeFull).
const ctxValidatedStatus = "validated_status"

// headerRequestID is X-Request-ID as net/http keys it (canonical form), so
// the header maps are read and written without canonicalising the name.
const headerRequestID = "X-Request-Id"

// Server is the gateway's HTTP API. Handler serves it; Run keeps its queue
// and Bloom statistics and the ledger's state fresh.
type Server struct {
	cfg         Config
	deps        Deps
	m           *metrics
	limit       *limiter
	lookupLimit *limiter
	watch       *watcher
	ledger      *ledgerProbe
	gin         *gin.Engine
	ids         requestIDs
	// epoch is when the server was made: accessLog times a request as
	// time.Since(epoch) at its start and end, one read of the monotonic
	// clock each (time.Now reads the wall clock too).
	epoch  time.Time
	secret *ballot.Secret
	// voteID draws a vote's id: secret's NewIssuedVoteID (a test's fake,
	// to fail as crypto/rand can).
	voteID func() (string, error)
	bodies sync.Pool // *[]byte: request bodies of known length
	warns  warnSampler
}

// New builds the server and registers its metrics on deps.Registry.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Secret) == 0 {
		return nil, errors.New("httpapi: empty election secret")
	}
	if deps.Elections == nil || deps.Ledger == nil || deps.Intake == nil || deps.Results == nil || deps.Receipts == nil {
		return nil, errors.New("httpapi: Deps needs Elections, Ledger, Intake, Results and Receipts")
	}
	s := &Server{
		cfg:         cfg,
		deps:        deps,
		m:           newMetrics(deps.Registry),
		limit:       newLimiter(cfg.ClientRate, cfg.ClientBurst, cfg.GlobalRate, cfg.GlobalBurst),
		lookupLimit: newLimiter(cfg.LookupRate, cfg.LookupBurst, 0, 0),
		ids:         newRequestIDs(),
		epoch:       time.Now(),
		secret:      ballot.NewSecret(cfg.Secret),
		bodies:      sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }},
	}
	s.voteID = s.secret.NewIssuedVoteID
	s.watch = newWatcher(deps.Elections, deps.Intake, s.m, deps.Log)
	s.ledger = newLedgerProbe(deps.Ledger, cfg, s.m, deps.Log)
	g, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	g.HandleMethodNotAllowed = true
	g.Use(s.ids.set, s.accessLog, s.recover)
	g.NoRoute(func(c *gin.Context) { abort(c, http.StatusNotFound, codeNotFound, "no such resource") })
	g.NoMethod(func(c *gin.Context) {
		abort(c, http.StatusMethodNotAllowed, codeMethodNotAllowed, c.Request.Method+" is not allowed here")
	})

	api := g.Group("/api/v1", s.rateLimit)
	api.POST("/vote", s.postVote)
	api.GET("/election", s.getElection)
	api.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openAPI) })
	// A vote's receipts: ballot.ReceiptPathPrefix (and AcceptancePathSuffix), as verify spells them.
	api.GET("/votes/:vote_id", s.getVote)
	api.POST("/votes/lookup", s.lookupVote)
	api.GET("/votes/:vote_id/acceptance", s.getAcceptance)
	api.GET("/log/:state/head", s.getLogHead)
	api.GET("/log/:state/entries", s.getLogEntries)
	api.GET("/log/:state/consistency", s.getLogConsistency)
	// Results are served from memory: no per-client limit on the read path.
	g.GET("/api/v1/results", s.getResults)
	g.GET("/api/v1/results/:contest", s.getContestResults)
	g.GET("/api/v1/results/:contest/:state", s.getContestStateResults)

	if deps.VoterPage != nil {
		page := gin.WrapH(deps.VoterPage)
		g.GET("/vote", page)
		g.GET("/vote/static/*file", page)
	}

	probeRoutes(g, cfg, deps.Registry, s.ready)
	s.gin = g
	return s, nil
}

// Handler is the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.gin }

// HTTPServer is the http.Server the gateway serves the API with on addr:
// HTTP/1.1 keep-alive connections (idle ones closed after 2 minutes), and
// a request's headers must arrive within Config.ReadHeaderTimeout (5 s) and
// the whole request within Config.ReadTimeout (10 s), on every route, so
// slow clients cannot hold connections and handlers. net/http's buffers
// (4 KiB each way) already hold a whole vote request and answer, so one
// read and one write serve a request. net/http's own errors (a handshake
// or header read gone wrong) go to the server's log at warn.
func (s *Server) HTTPServer(addr string) *http.Server {
	return httpServer(addr, s.gin, s.cfg, s.deps.Log)
}

// newEngine is a gin engine that believes the client address of
// X-Forwarded-For from cfg.TrustedProxies alone (not gin's default of every
// peer, nor X-Real-IP): the API's and the Front's, alike.
func newEngine(cfg Config) (*gin.Engine, error) {
	g := gin.New()
	if err := g.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("httpapi: trusted proxies: %w", err)
	}
	g.RemoteIPHeaders = []string{"X-Forwarded-For"}
	return g, nil
}

// httpServer is the http.Server of HTTPServer, serving h.
func httpServer(addr string, h http.Handler, cfg Config, log *slog.Logger) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// probeRoutes routes what operators and load balancers probe, alike from
// the gateway's start (Front) to its end: GET /healthz, 200 while the
// process serves HTTP; GET /readyz, answered by ready; GET /metrics, reg's
// metrics, unless cfg.MetricsElsewhere.
func probeRoutes(g *gin.Engine, cfg Config, reg prometheus.Gatherer, ready gin.HandlerFunc) {
	g.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	g.GET("/readyz", ready)
	if !cfg.MetricsElsewhere {
		g.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	}
}

// Run polls queue depths and Bloom statistics, probes the ledger and
// writes the summaries of the lines sampled (warnSampler: the access log's
// 5xx answers, sampledLine's) until ctx ends; it returns once they have
// all stopped. A Server runs one Run at a time, which should end only
// after serving has ended: as it returns it writes the counts of the
// windows still open and leaves sampling off, so every later line is
// written at its level. A Run after that samples again.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.ledger.run(ctx) })
	wg.Go(func() { s.warns.run(ctx, s.deps.Log, s.cfg.Now) })
	s.watch.run(ctx, s.cfg.DepthInterval, s.cfg.BloomInterval)
	wg.Wait()
}

// Routes lists "METHOD path" of every route, for the OpenAPI test.
func (s *Server) Routes() []gin.RouteInfo { return s.gin.Routes() }

func (s *Server) getElection(c *gin.Context) {
	e, err := s.deps.Elections.Election(c.Request.Context())
	if err != nil {
		s.noElection(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

// ready answers 200 when the gateway can take votes, its queue (Redis)
// answering within ReadyTimeout, with the ledger's state as the background
// probe last found it (readiness); 503 not_ready otherwise. The ledger is
// not read here: a vote's intake does not wait for it (ledgerProbe).
func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	// The answer names no internal detail (addresses, users, errors); the
	// log has it, sampled (sampledLine): under a Redis outage every probe
	// of every load balancer and kubelet fails.
	if err := s.deps.Intake.Ping(ctx); err != nil {
		s.sampledLine(c, slog.LevelWarn, "not ready: redis", codeNotReady, "", err)
		s.unavailable(c, codeNotReady, "the gateway cannot reach its queue")
		return
	}
	c.JSON(http.StatusOK, s.ledger.readiness())
}

// requestIDs makes request ids: a random prefix drawn at start and a
// counter, unique without a system call per request.
type requestIDs struct {
	prefix string
	seq    atomic.Uint64
}

func newRequestIDs() requestIDs { return requestIDs{prefix: rand.Text()[:10] + "-"} }

// set takes the client's X-Request-ID if it is sane, or makes one, and
// echoes it in the answer, where requestIDOf finds it.
func (r *requestIDs) set(c *gin.Context) {
	var id string
	if v := c.Request.Header[headerRequestID]; len(v) > 0 && saneRequestID(v[0]) {
		id = v[0]
	} else {
		var b [32]byte
		id = string(strconv.AppendUint(append(b[:0], r.prefix...), r.seq.Add(1), 16))
	}
	c.Writer.Header()[headerRequestID] = []string{id}
	c.Next()
}

// requestIDOf is the request's id, as requestID set it in the answer.
func requestIDOf(c *gin.Context) string {
	if v := c.Writer.Header()[headerRequestID]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// logger is the request's logger, carrying its id.
func (s *Server) logger(c *gin.Context) *slog.Logger {
	return s.deps.Log.With("request_id", requestIDOf(c))
}

// statusLabel is an HTTP status as a metric label, without an allocation
// for the statuses the API answers most.
func statusLabel(status int) string {
	switch status {
	case http.StatusOK:
		return "200"
	case http.StatusAccepted:
		return "202"
	case http.StatusForbidden:
		return "403"
	case http.StatusConflict:
		return "409"
	case http.StatusServiceUnavailable:
		return "503"
	}
	return strconv.Itoa(status)
}

// recover turns a panic into a logged 503, so a bug answers like any other
// fault on our side (the vote was not acknowledged) instead of a bare 500.
// Its error line, with the panic and the stack, is sampled (warnSampler):
// a bug on the vote's path panics on every vote, and a line of a stack's
// kilobytes per vote would flood the log and hide the others. Each
// distinct panic (its value's class, errClass, at its site: the function,
// file and line that panicked, which no number masks) still has its first
// line of a window written at error with its stack, so a second bug is not
// hidden under the first; the others are at debug and counted.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			ctx := c.Request.Context()
			k := warnKind{level: slog.LevelError, msg: "panic", code: codeUnavailable}
			level := k.level
			if s.sampling(ctx, k) {
				l := warnLine{err: errClass(fmt.Sprint(r)) + " at " + panicSite()}
				level = s.warns.level(ctx, s.deps.Log, k, l, s.cfg.Now())
			}
			if s.deps.Log.Enabled(ctx, level) {
				s.logger(c).Log(ctx, level, "panic", "panic", r, "stack", string(debug.Stack()))
			}
			s.unavailable(c, codeUnavailable, "internal error")
		}
	}()
	c.Next()
}

// panicSite is where the panic being recovered was raised: the function,
// file and line of the first frame outside the runtime (runtime. and Go's
// internal/runtime/ packages, such as its maps) below runtime.gopanic; ""
// if the stack holds none.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "internal/runtime/"):
			return f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
		}
		if !more {
			return ""
		}
	}
}

// rateLimit refuses requests over the per-client or global rate with 429.
func (s *Server) rateLimit(c *gin.Context) {
	if !s.limit.on() {
		return // no limits: the client address need not be worked out
	}
	if ok, wait := s.limit.allow(c.ClientIP(), s.cfg.Now()); !ok {
		abortRetry(c, http.StatusTooManyRequests, codeRateLimited, "too many requests; slow down", wait)
		return
	}
	c.Next()
}
