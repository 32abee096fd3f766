package aofrewrite

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// DefaultInterval is how often a Rewriter reads each server's INFO
// persistence (one short command; the quiet window holds twelve readings).
const DefaultInterval = 5 * time.Second

// Rewriter polls every Redis server of its client (the server, or each
// master of a Redis Cluster as the cluster has them now), keeps each one's
// samples, and sends BGREWRITEAOF to a server when its Policy says so. Its
// client's user needs only INFO and BGREWRITEAOF (redisserver.UserAOF),
// and on a cluster the slot map. Several Rewriters on the same servers (one
// per batcher) are harmless: a server refuses a rewrite while one runs,
// and the next reading sees it running.
//
// After a rewrite fails on a server (aof_last_bgrewrite_status:err, or
// BGREWRITEAOF refused), whoever started it, the Rewriter holds that
// server's rewrites back (Policy.Hold), by the server's own count of failed
// rewrites where it reports one (Failures): it logs a warning once per
// failure counted, with when it will try again, and the recovery once.
type Rewriter struct {
	rdb      redis.UniversalClient
	policy   Policy
	interval time.Duration
	log      *slog.Logger
	started  *prometheus.CounterVec
	failed   *prometheus.GaugeVec

	history  map[string][]Sample // per server address, oldest first; Poll's alone
	failures map[string]Failures // per server address, kept while it is not read; Poll's alone

	mu      sync.Mutex        // guards failing
	failing map[string]string // per server address, the last error logged
}

// Option configures a Rewriter.
type Option func(*Rewriter)

// WithPolicy sets the policy (default DefaultPolicy()).
func WithPolicy(p Policy) Option { return func(r *Rewriter) { r.policy = p } }

// WithInterval sets how often each server is read (default
// DefaultInterval).
func WithInterval(d time.Duration) Option { return func(r *Rewriter) { r.interval = d } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Rewriter) { r.log = l } }

// WithRegisterer registers the Rewriter's metrics,
// aof_rewrites_started_total{server} and aof_rewrite_failures{server}, on
// reg.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(r *Rewriter) { reg.MustRegister(r.started, r.failed) }
}

// New returns a Rewriter over rdb (a *redis.Client for one server or a
// *redis.ClusterClient, as redisserver.NewClient makes them).
func New(rdb redis.UniversalClient, opts ...Option) *Rewriter {
	r := &Rewriter{
		rdb: rdb, policy: DefaultPolicy(), interval: DefaultInterval, log: slog.Default(),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aof_rewrites_started_total",
			Help: "AOF rewrites (BGREWRITEAOF) this process started because the Redis server's intake was quiet and its AOF had grown past the threshold, by server address.",
		}, []string{"server"}),
		failed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aof_rewrite_failures",
			Help: "AOF rewrites in a row that failed on the Redis server (aof_last_bgrewrite_status:err, or BGREWRITEAOF refused), whoever started them: the server's aof_rewrites_consecutive_failures where it reports it (Redis 7), plus the refusals this process saw; 0 once one succeeds. While above 0 the quiet-time rewrites wait (5 min doubling to 1 h by default).",
		}, []string{"server"}),
		history:  map[string][]Sample{},
		failures: map[string]Failures{},
		failing:  map[string]string{},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Run polls every interval until ctx ends, then returns nil. Errors (a
// server unreachable, a user the server does not know) are logged, once
// each until they change, and polling goes on.
func (r *Rewriter) Run(ctx context.Context) error {
	r.log.Info("AOF rewrite policy on", "quiet_rate_bytes_per_s", r.policy.QuietRate, "window", r.policy.Window.String(),
		"min_growth_bytes", r.policy.MinGrowth, "growth_percent", r.policy.GrowthPercent, "interval", r.interval.String(),
		"retry_wait", r.policy.RetryWait.String(), "max_retry_wait", r.policy.MaxRetryWait.String())
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.Poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll reads every server once, decides for them together
// (Policy.DecideShared: the masters of a cluster share the machine) and
// starts the rewrites due. It returns the decisions by server address.
// Calls must not overlap (Run makes them one after the other).
func (r *Rewriter) Poll(ctx context.Context) map[string]Decision {
	ctx, cancel := context.WithTimeout(ctx, r.interval)
	defer cancel()
	var mu sync.Mutex
	servers := map[string]server{}
	missed := false // a server not read: its intake is unknown this round
	read := func(ctx context.Context, c *redis.Client) error {
		addr := c.Options().Addr
		info, err := c.Info(ctx, "persistence").Result()
		if err != nil {
			r.fail(addr, err)
			mu.Lock()
			missed = true
			mu.Unlock()
			return nil
		}
		r.ok(addr)
		s := ParseInfo(info, time.Now())
		mu.Lock()
		defer mu.Unlock()
		servers[addr] = c
		r.history[addr] = r.policy.Trim(append(r.history[addr], s))
		r.setFailures(addr, r.failures[addr].Observe(s), nil)
		return nil
	}
	switch c := r.rdb.(type) {
	case *redis.ClusterClient:
		if err := c.ForEachMaster(ctx, read); err != nil {
			r.fail("cluster", err)
			missed = true
		}
	case *redis.Client:
		_ = read(ctx, c)
	default:
		r.fail("client", errors.New("aofrewrite: want a *redis.Client or a *redis.ClusterClient"))
	}
	// Forget servers not read (no longer masters, or not answering): their
	// history must start again.
	for addr := range r.history {
		if servers[addr] == nil {
			delete(r.history, addr)
			r.failed.DeleteLabelValues(addr) // a failover's old master: no stale alert
		}
	}
	decisions := r.policy.DecideShared(r.history)
	now := time.Now()
	for addr, d := range decisions {
		if d.Rewrite && missed {
			d.Rewrite, d.Reason = false, ReasonSharedUnknown
		}
		d = r.policy.Hold(d, r.failures[addr], now)
		decisions[addr] = d
		r.log.Debug("AOF rewrite policy", "server", addr, "decision", d.String())
		if d.Rewrite {
			r.rewrite(ctx, addr, servers[addr], d)
		}
	}
	return decisions
}

// server is what the Rewriter asks of one Redis server.
type server interface {
	Info(ctx context.Context, section ...string) *redis.StringCmd
	BgRewriteAOF(ctx context.Context) *redis.StatusCmd
}

// rewrite sends BGREWRITEAOF to the server at addr, for d.
func (r *Rewriter) rewrite(ctx context.Context, addr string, c server, d Decision) {
	reply, err := c.BgRewriteAOF(ctx).Result()
	if err != nil && strings.Contains(err.Error(), "already in progress") {
		// Another Rewriter's (another batcher's) began meanwhile.
		r.log.Debug("AOF rewrite already running", "server", addr)
		return
	}
	h := r.history[addr]
	var refusal redis.Error
	if errors.As(err, &refusal) {
		// The server's own answer: it could not start the rewrite.
		r.setFailures(addr, r.failures[addr].Refused(h[len(h)-1], time.Now()), err)
		return
	}
	if err != nil {
		// No answer (a deadline, a reset connection, shutdown): says
		// nothing about the server's disk, so it holds nothing back.
		r.fail(addr, err)
		return
	}
	r.started.WithLabelValues(addr).Inc()
	r.log.Info("AOF rewrite started: intake quiet", "server", addr, "reply", reply,
		"incremental_bytes", d.Growth, "base_bytes", h[len(h)-1].BaseBytes, "threshold_bytes", d.Threshold,
		"max_rate_bytes_per_s", int64(d.Rate), "quiet_for", d.Quiet.Round(time.Second).String())
}

// setFailures records f as the failures of the server at addr, and logs
// a change: a failure counted (err: BGREWRITEAOF's refusal, if that is
// it) at warn, the run ended at info. Its callers hold mu or are Poll's.
func (r *Rewriter) setFailures(addr string, f Failures, err error) {
	r.failed.WithLabelValues(addr).Set(float64(f.Count))
	was := r.failures[addr]
	if f == was {
		return
	}
	r.failures[addr] = f
	switch {
	case f.Count > was.Count:
		attrs := []any{"server", addr, "failures_in_a_row", f.Count, "retry_at", r.policy.RetryAt(f).UTC().Format(time.RFC3339)}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		r.log.Warn("AOF rewrite failed (see the Redis server's log: a full disk?): quiet-time rewrites wait", attrs...)
	case f.Count == 0:
		r.log.Info("AOF rewrite succeeded after failed ones: quiet-time rewrites resume", "server", addr, "failures_in_a_row", was.Count)
	}
}

// fail logs err for key unless it is the one logged last.
func (r *Rewriter) fail(key string, err error) {
	r.mu.Lock()
	repeat := r.failing[key] == err.Error()
	r.failing[key] = err.Error()
	r.mu.Unlock()
	if !repeat {
		r.log.Warn("AOF rewrite policy: cannot read or rewrite", "server", key, "err", err)
	}
}

// ok notes that key answered again, logging the recovery once.
func (r *Rewriter) ok(key string) {
	r.mu.Lock()
	_, was := r.failing[key]
	delete(r.failing, key)
	r.mu.Unlock()
	if was {
		r.log.Info("AOF rewrite policy: server answers again", "server", key)
	}
}

// ParseInfo reads a Sample, taken at at, from the text of INFO persistence
// (lines of other sections are ignored).
func ParseInfo(info string, at time.Time) Sample {
	s := Sample{At: at}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "aof_enabled":
			s.Enabled = n == 1
		case "loading", "async_loading":
			s.Loading = s.Loading || n == 1
		case "aof_rewrite_in_progress", "aof_rewrite_scheduled":
			s.Rewriting = s.Rewriting || n == 1
		case "rdb_bgsave_in_progress", "module_fork_in_progress":
			s.Forked = s.Forked || n == 1
		case "aof_rewrites":
			s.Rewrites = n
		case "aof_current_size":
			s.CurrentBytes = n
		case "aof_base_size":
			s.BaseBytes = n
		case "aof_last_bgrewrite_status":
			s.RewriteFailed = v == "err"
		case "aof_rewrites_consecutive_failures":
			s.RewriteFailures, s.FailuresReported = n, true
		}
	}
	return s
}
