// Command gateway serves Votechain's vote intake API (see gateway/httpapi)
// and the voter's web page at /vote (see gateway/voterweb).
//
// Usage:
//
//	gateway [flags]
//
// Every flag may also be set by the environment (GATEWAY_<FLAG>, upper case,
// dashes as underscores); run gateway --help for the list and defaults. The
// shared flags (Redis, ledger, logging, the election secret) are internal/cli's.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/gateway/httpapi"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/gateway/receipt"
	"github.com/votechain/votechain/gateway/results"
	"github.com/votechain/votechain/gateway/voterweb"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network"
)

const envPrefix = "GATEWAY"

// minPagePoll and maxPagePoll bound --page-poll-interval. Every open voter
// page reads the election record once an interval and gives a read up
// after one, so a shorter interval multiplies the load while a busy
// gateway's slower answers count as failed; a longer one leaves a page
// offering its form that long after an early close.
const minPagePoll, maxPagePoll = 5 * time.Second, time.Hour

// options are the command's settings.
type options struct {
	listen          string
	redis           *cli.Redis
	ledger          *cli.Ledger
	log             *slog.Logger
	secretFile      *string
	resultsFile     string
	receiptBatches  int
	electionTTL     time.Duration
	electionMaxAge  time.Duration
	shutdownTimeout time.Duration
	pprof           string
	metricsListen   string
	gc              *cli.GC
	procs           int
	trustedProxies  string
	replicas        int
	http            httpapi.Config
	page            voterweb.Config
	dedup           dedup.Config
	intakeLog       bool
	logKeyFile      string
	logKey          ed25519.PrivateKey // --log-key's, read by loadFiles
	logInterval     time.Duration
	listener        net.Listener // --listen's (its port the kernel's choice for port 0), bound before the ledger is dialled: its address is in run's logs; the tests' dialler reads it, and may close it to make serving fail
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	hd, dd, pd := httpapi.DefaultConfig(), dedup.DefaultConfig(), voterweb.DefaultConfig()
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.Usage = cli.Usage(fs, envPrefix, "gateway serves the Votechain vote intake API (POST /api/v1/vote and friends).", "")
	fs.StringVar(&o.listen, "listen", cli.DefaultGatewayAddr(), "HTTP listen address: bound and served from the start, so a port in use stops the gateway at once; until the election record has been read from the ledger /healthz answers 200, /metrics the metrics (unless --metrics-listen is set, where they are served instead) and every other route, /readyz included, 503 starting")
	o.gc = cli.GCFlags(fs, 400, "400 took ~10% less gateway CPU per vote than 100 in BenchmarkVoteLoopback; at ~5 KB allocated per vote the collector is now ~1% of the gateway's CPU")
	fs.IntVar(&o.procs, "procs", 0, "most threads running Go code at once (as GOMAXPROCS); 0: Go's default (the GOMAXPROCS environment variable, else the cores the process may use). 1 took ~10% less gateway CPU per vote over loopback at 5,000 votes/s on a loaded 2-core machine (no second thread to wake, spin and steal work), but caps the gateway at one core")
	fs.StringVar(&o.pprof, "pprof", "", cli.PprofUsage)
	fs.StringVar(&o.page.ExplorerURL, "explorer-url", "", "base URL of a block explorer the election's auditors or observers run (bin/explorer), as voters' browsers reach it, such as http://"+cli.DefaultExplorerAddr()+": the voter page links to its results and to its check of a vote (/verify), so a voter can check on a node this gateway's operator does not control; empty: the page links to the gateway's own JSON only")
	fs.DurationVar(&o.page.PollInterval, "page-poll-interval", pd.PollInterval, fmt.Sprintf("how often, on average, the voter page reads the election record (GET /api/v1/election) while voting is open and its tab is shown, to show an early close: each wait is drawn from 3/4 to 5/4 of it, doubles after each failed read (up to 8 times it) and lasts at least a 503's or 429's Retry-After (up to 10 minutes); a read is given up after one interval. Each open page makes one request an interval; %s to %s", minPagePoll, maxPagePoll))
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "listen address for /metrics (and /healthz) apart from the API, for Prometheus only, bound and served from the start: the metrics show each state's queue and its Bloom filter's fill, which grows with its turnout: not for voters; empty: /metrics is served on --listen with the API")
	o.redis = cli.RedisFlags(fs, redisserver.UserGateway)
	o.secretFile = cli.SecretFlag(fs)
	o.ledger = cli.LedgerFlags(fs, network.Gateway)
	logFlags := cli.LogFlags(fs)
	fs.StringVar(&o.resultsFile, "results-checkpoint", ".run/gateway/results.json", "where the results cache persists its results and event checkpoint")
	fs.IntVar(&o.receiptBatches, "receipt-cache", 256, "batches whose Merkle trees are kept for receipts, at least 1")
	fs.DurationVar(&o.electionTTL, "election-ttl", time.Second, "how often the election record is read again from the ledger (in the background from half that age: votes wait for the ledger only for a record --election-max-age old), at least 1ms")
	fs.DurationVar(&o.electionMaxAge, "election-max-age", 5*time.Second, "oldest election record votes are accepted against: when the ledger cannot be read for this long, votes get 503, so a close is honoured within it; at least 1ms (below --election-ttl it counts as --election-ttl)")
	logStop := o.intakeLogConfig(nil).StopTimeout()
	single, cluster := dd, dd
	cluster.Replicas = 1
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, fmt.Sprintf("grace period of a stop (SIGTERM), at least 0 (0: none): the requests in flight may finish within it; once it has run out a vote that reaches the intake after it (its body still arriving, say) is answered 503 stopping (not stored), and the votes being stored are waited for, up to an Accept's longest (at the default flags %[3]s on a single Redis, %[4]s on a Redis Cluster or with replicas: --redis-timeout for the state's shape, an intake call for room in a full queue (then 503 overloaded), --linger, --ledger-check-timeout and four intake calls more: two ahead of the vote's, its own and the exact check's; an intake call takes --redis-timeout on a single Redis without replicas, else --redis-failover-wait, 100ms, --redis-timeout and --redis-replica-timeout), so they get their answers and the closing round covers them; those still in flight then are answered 503 at once and no Redis call starts after them, logged at warn. After %[5]s more for the answers to be written the requests still being handled are cut, logged at warn (the stop still exits 0 unless serving failed). Then the background loops end within what is left of it, but at least %[2]s however little is left, with --intake-log at least %[1]s: the longest the intake log takes to finish an anchor in flight and then its closing round, which signs and anchors the votes accepted, and %[2]s of slack; then the intake's workers are given up to %[6]s to end. A stop may take this plus those waits (a failure of serving is stopped alike). A stop while the election record is awaited gives this grace to the requests in flight (all answered 503 starting) and exits 0 unless the start failed on its own", logStop+minLoopsWait, minLoopsWait, single.MaxAcceptTime(false), cluster.MaxAcceptTime(true), answerWait, closeWait))
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated proxy IP addresses or CIDRs (10.0.0.0/8), each once (10.0.0.1 and 10.0.0.1/32 are one; an IPv4-mapped IPv6 entry counts as its IPv4 form), whose X-Forwarded-For is believed; a CIDR with bits set after its prefix length (10.0.0.1/8) is refused; empty: the peer address is the client")
	fs.Int64Var(&o.http.MaxBodyBytes, "max-body-bytes", hd.MaxBodyBytes, "largest request body accepted, in bytes, at least 1")
	fs.Int64Var(&o.http.MaxQueueDepth, "max-queue-depth", hd.MaxQueueDepth, "votes waiting for the ledger per state above which votes get 503 overloaded, at least 1; -1: no limit")
	fs.DurationVar(&o.http.RetryAfter, "retry-after", hd.RetryAfter, "Retry-After advised on 503 answers, the API's, the starting gateway's (503 starting) and the voter page's (no election record yet), in whole seconds rounded up; at least 1ms")
	fs.Float64Var(&o.http.ClientRate, "client-rate", 0, "requests per second per client address, at least 0; 0: no limit")
	fs.IntVar(&o.http.ClientBurst, "client-burst", 20, "burst per client address, at least 1")
	fs.Float64Var(&o.http.GlobalRate, "global-rate", 0, "requests per second over all clients, at least 0; 0: no limit")
	fs.IntVar(&o.http.GlobalBurst, "global-burst", 1000, "global burst, at least 1")
	fs.DurationVar(&o.http.DepthInterval, "depth-interval", hd.DepthInterval, "how often queue depths are polled")
	fs.DurationVar(&o.http.BloomInterval, "bloom-interval", hd.BloomInterval, "how often Bloom filter fill is counted")
	fs.DurationVar(&o.http.LedgerProbeInterval, "ledger-probe-interval", hd.LedgerProbeInterval, "how often the ledger is probed in the background (an uncached read of the election record): /readyz's body, the ledger_probe_* metrics and a log line on each change report it; readiness does not depend on it")
	fs.DurationVar(&o.http.LedgerProbeTimeout, "ledger-probe-timeout", hd.LedgerProbeTimeout, "longest a ledger probe waits for its answer before the ledger counts as unreachable")
	fs.Uint64Var(&o.dedup.ExpectedVoters, "bloom-expected-voters", dd.ExpectedVoters, "voters per state that a state's Bloom filter (at --bloom-fp-rate) and its roll's shards in Redis (about 128 voters a shard) are sized for when no roll load sized them first; the first gateway to need a state stores both sizes, fixed from then on, and every gateway uses the stored ones; at least 1")
	fs.Float64Var(&o.dedup.FalsePositiveRate, "bloom-fp-rate", dd.FalsePositiveRate, "Bloom false-positive rate target when the roll loader did not size it, more than 0 and less than 1")
	fs.IntVar(&o.dedup.MaxBatch, "max-batch", dd.MaxBatch, "most votes per Redis script call, at least 1")
	fs.IntVar(&o.dedup.Workers, "workers", dd.Workers, "concurrent Redis script calls, at least 1 (per state on a Redis Cluster; for all states on a single server, where one call carries the votes of several states)")
	fs.DurationVar(&o.dedup.Linger, "linger", dd.Linger, "longest a Redis script call waits for more votes under load (only while votes arrive faster than that; never at idle); 0 or negative: never")
	fs.DurationVar(&o.dedup.CallTimeout, "redis-timeout", dd.CallTimeout, "timeout of one Redis call (its socket reads and writes included; on a Redis Cluster an intake call has this plus --redis-replica-timeout, for WAIT); a call without a deadline of its own has the larger of 5s and that sum; on a single Redis without replicas also how long a vote finding its state's intake queue full waits for room before 503 overloaded; at least 1ms")
	fs.IntVar(&o.replicas, "redis-replicas", -1, "replicas that must acknowledge a vote (WAIT) before its 202; -1: 1 on a Redis Cluster, 0 on a single server")
	fs.DurationVar(&o.dedup.ReplicaTimeout, "redis-replica-timeout", dd.ReplicaTimeout, "longest wait for the replicas' acknowledgement; without it the vote gets 503; at least 1ms")
	fs.DurationVar(&o.dedup.LedgerTimeout, "ledger-check-timeout", dd.LedgerTimeout, "longest a vote's exact duplicate check waits for the ledger's answer (asked only when its state's Bloom filter, rebuilt after a Redis lost its data, says maybe seen); past it the vote gets 503 ledger_unavailable; at least 1ms")
	fs.DurationVar(&o.dedup.FailoverWait, "redis-failover-wait", dd.FailoverWait, "how long a vote waits for its slot's master and replicas (a Redis failover) before 503, at least 1ms; on a Redis Cluster or with replicas a vote finding its queue for Redis full waits as long, plus 100ms, --redis-timeout and --redis-replica-timeout, for room before 503 overloaded")
	fs.BoolVar(&o.intakeLog, "intake-log", true, "keep the intake log: append every accepted vote to its state's log, sign and anchor tree heads, serve acceptance receipts; false measures intake without it")
	fs.StringVar(&o.logKeyFile, "log-key", intakelog.DefaultKeyFile, "the intake log's Ed25519 signing key (0600; make up creates it and registers its public half on the ledger); empty: follow and serve the log, sign nothing")
	fs.DurationVar(&o.logInterval, "log-interval", time.Second, fmt.Sprintf("how often tree heads of the logs that grew are signed, published and anchored, at least 1ms and at most %s: with a longer one, a gateway's take-over of the heads another gateway stopped before anchoring could come after the IntakeLogUnanchored alert", o.intakeLogConfig(nil).MaxInterval()))
	err := cli.ParseFlags(fs, envPrefix, args)
	if err == nil {
		var logErr error
		o.log, logErr = logFlags.Logger(stderr)
		err = errors.Join(checkFlags(fs, o), logErr)
	}
	if err != nil {
		return nil, err
	}
	o.dedup.NoLog = !o.intakeLog
	if o.dedup.Linger == 0 {
		o.dedup.Linger = -1 // never, as the help says; dedup would take 0 for its default
	}
	o.page.RetryAfter = o.http.RetryAfter
	o.http.MetricsElsewhere = o.metricsListen != ""
	return o, nil
}

// checkFlags refuses, as usage errors naming the flags, every value of fs
// (the gateway's flags, parsed into o) that can be told wrong without Redis
// or the ledger: addresses, the trusted proxies, the organisation, ranges of
// numbers and durations (--log-interval's set by the intake log:
// checkLogInterval), the explorer's URL. All are reported at once. It
// sets o.http.TrustedProxies to --trusted-proxies' prefixes in canonical
// form (cli.Prefixes).
func checkFlags(fs *flag.FlagSet, o *options) error {
	_, redisErr := o.redis.Endpoint()
	proxies, proxiesErr := cli.Prefixes("--trusted-proxies", o.trustedProxies)
	for _, p := range proxies {
		o.http.TrustedProxies = append(o.http.TrustedProxies, p.String())
	}
	var explorerErr, depthErr, fpErr error
	if o.http.MaxQueueDepth == 0 { // httpapi would take 0 for its default
		depthErr = cli.Usagef("--max-queue-depth is 0: want -1 (no limit) or at least 1")
	}
	if r := o.dedup.FalsePositiveRate; !(r > 0 && r < 1) {
		fpErr = cli.Usagef("--bloom-fp-rate is %g: want more than 0 and less than 1", r)
	}
	if o.page.ExplorerURL != "" {
		explorerErr = cli.CheckExplorerURL("--explorer-url", o.page.ExplorerURL)
	}
	return errors.Join(
		o.gc.Check(),
		cli.DurationsAtLeast(fs, time.Millisecond, "depth-interval", "bloom-interval", "ledger-probe-interval", "ledger-probe-timeout", "ledger-check-timeout"),
		checkLogInterval(fs, o),
		cli.DurationsIn(fs, minPagePoll, maxPagePoll, "page-poll-interval"),
		// 0 would silently become the default in election.NewCache, httpapi and dedup.
		cli.DurationsAtLeast(fs, time.Millisecond, "election-ttl", "election-max-age", "retry-after", "redis-timeout", "redis-replica-timeout", "redis-failover-wait"),
		cli.DurationsAtLeast(fs, 0, "shutdown-timeout"),
		depthErr,
		fpErr,
		explorerErr,
		cli.CheckAddrs(fs, "listen", "metrics-listen", "pprof"),
		proxiesErr,
		redisErr,
		o.ledger.Check(),
		cli.IntsIn(fs, 1, cli.Unbounded, "workers", "max-batch", "receipt-cache", "client-burst", "global-burst"),
		cli.IntsIn(fs, 0, cli.Unbounded, "procs"),
		cli.IntsIn(fs, -1, cli.Unbounded, "redis-replicas", "max-queue-depth"),
		cli.IntsIn(fs, 1, cli.Unbounded, "max-body-bytes", "bloom-expected-voters"),
		cli.FloatsAtLeast(fs, 0, "client-rate", "global-rate"),
	)
}

// checkLogInterval refuses, as a usage error naming --log-interval, one
// under 1ms (a ticker's panic) or one the intake log refuses
// (intakelog.Config.Check: longer than its MaxInterval).
func checkLogInterval(fs *flag.FlagSet, o *options) error {
	if err := cli.DurationsAtLeast(fs, time.Millisecond, "log-interval"); err != nil {
		return err
	}
	if err := o.intakeLogConfig(nil).Check(); err != nil {
		return cli.Usagef("--log-interval: %v", err)
	}
	return nil
}

func main() {
	gin.SetMode(gin.ReleaseMode) // for the process: the front's and the API's engines
	cli.Main("gateway", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stderr, dialFabric) })
}

// ledger is what the gateway reads from and writes to the ledger: each
// part's own interface, all met by the Fabric client (*fabricclient.Ballot).
type ledger interface {
	election.Source
	results.Ledger
	intakelog.Ledger
	dedup.NullifierLedger
	receipt.Ledger
}

// dialer connects to the ledger the options name, ctx bounding the dial
// (not the connection); closeFn ends the connection.
type dialer func(ctx context.Context, o *options) (l ledger, closeFn func() error, err error)

// dialFabric connects to the consortium's peer through the Fabric Gateway
// (the --profile, --org and --user flags).
func dialFabric(ctx context.Context, o *options) (ledger, func() error, error) {
	conn, err := o.ledger.Dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	return conn.Ballot(), conn.Close, nil
}

// electionWait is how the gateway waits for the election record at start:
// a record not there yet is logged at info, any other failure (access
// denied, a peer down) at warn, since it may never clear by itself.
var electionWait = election.Wait{
	NotSetUp: "waiting for the election record on the ledger",
	Failed:   "cannot read the election record yet", FailedLevel: slog.LevelWarn,
}

// run wires the gateway from its flags (args; it logs to stderr) and
// serves until ctx ends or serving fails, then shuts down gracefully: no
// new connections, requests in flight finish within --shutdown-timeout
// (those still open then are answered before they are cut: gateway.stop),
// then the background loops stop (the intake log signs and anchors a last
// time) within what is left of it but at least the intake log's stop
// timeout (gateway.stop), before Redis and the ledger are closed. What
// it can check without Redis and the ledger, the flags (parseFlags) and
// the files they name (cli.LoadSecret, loadFiles), it checks, and the --pprof, --listen and --metrics-listen
// listeners it opens, before it connects to either and waits, for as long
// as it takes, for the election record on the ledger. --listen and
// --metrics-listen are served from then on: --listen during the wait as a
// gateway starting (httpapi.Front: /healthz 200, /metrics unless
// --metrics-listen serves it, every other route 503 starting), then, on
// the same listener and connections, as its API. A stop during the wait
// shuts --listen down as gracefully (its requests in flight may finish
// within --shutdown-timeout; if some have not, they are cut, logged at
// warn) and closes --metrics-listen, and exits 0 either way, unless the
// start failed on its own (such as a dial failing with an error of its own
// as the stop came): no vote was taken. Its steps, in order: parseFlags,
// cli.LoadSecret, loadFiles, listen, applyProcess, redisClient and
// waitReplicas, the dial and the wait for the election record, wire, the
// front's switch to the API, and serveUntilStop (or stopStarting, when the
// start ends first).
func run(ctx context.Context, args []string, stderr io.Writer, dial dialer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := o.log
	defer cli.LogFailure(log, &err)
	secret, err := cli.LoadSecret(*o.secretFile)
	if err != nil {
		return err
	}
	if err := o.loadFiles(); err != nil {
		return err
	}
	s, err := listen(ctx, o)
	if err != nil {
		return err
	}
	defer s.close()
	gc := o.applyProcess()
	rdb, cluster, err := o.redisClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	o.dedup.Replicas = o.waitReplicas(cluster)
	l, closeLedger, err := dial(ctx, o)
	if err != nil {
		return s.stopStarting(ctx, err)
	}
	defer closeLedger()
	elections := election.NewCache(l, o.electionTTL, o.electionMaxAge, log, nil)
	e, err := election.Await(s.waitCtx, elections, electionWait, log)
	if err != nil {
		return s.stopStarting(ctx, err)
	}
	// The background loops outlive the signal: they stop once the requests
	// in flight have finished, so that the intake log's closing round
	// anchors every vote the gateway accepted.
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	g, err := wire(loopCtx, o, secret, rdb, l, elections, e, s.reg)
	if err != nil {
		return err // no loop started
	}
	s.front.SwitchToAPI(g.api)
	log.Info("gateway serving its API", "addr", s.ln.Addr().String(), "redis", o.redis.Addr, "redis_cluster", cluster, "wait_replicas", o.dedup.Replicas, gc)
	return serveUntilStop(ctx, s, g, stopLoops)
}

// listening is what run opens before it connects to Redis and the
// ledger, so that a port in use stops the gateway at once (listen): the
// --pprof server, the --listen listener with its front serving on it in
// the background, and the --metrics-listen server. run closes it last
// (close), after Redis and the ledger.
type listening struct {
	o        *options
	reg      *prometheus.Registry // served on /metrics, by the front or on --metrics-listen (newFront's)
	front    *httpapi.Front       // the handler of srv: the gateway starting until switched to the API
	ln       net.Listener         // --listen's (o.listener)
	srv      *http.Server         // serves front on ln
	serveErr chan error           // serving's error, sent once: it ends only when it fails or srv is shut down
	waitCtx  context.Context      // of the wait for the election record: run's, also ended by a failure of serving
	endWait  context.CancelFunc   // ends waitCtx
	pprof    *http.Server         // --pprof's, or nil
	metrics  *http.Server         // --metrics-listen's, or nil
}

// listen opens, in this order, the --pprof server (if set), the --listen
// listener (o.listener), serving newFront's front from then on, and the
// --metrics-listen server (if set), and logs "gateway listening". An
// address it cannot listen on is an error naming its flag and the fix. On
// any error (newFront's too) it returns nil, having closed all it opened;
// else the caller closes what it returns (close).
func listen(ctx context.Context, o *options) (_ *listening, err error) {
	s := &listening{o: o}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if o.pprof != "" {
		if s.pprof, err = cli.ServePprof(o.pprof, o.log); err != nil {
			return nil, err
		}
	}
	if s.ln, err = cli.Listen("--listen", o.listen); err != nil {
		return nil, err
	}
	o.listener = s.ln
	if s.reg, s.front, err = newFront(o); err != nil {
		return nil, err
	}
	s.srv = s.front.HTTPServer(o.listen)
	s.serveErr = make(chan error, 1)
	s.waitCtx, s.endWait = context.WithCancel(ctx)
	go func() {
		s.serveErr <- fmt.Errorf("serve on --listen %s: %w", o.listen, s.srv.Serve(s.ln))
		s.endWait()
	}()
	if o.metricsListen != "" {
		if s.metrics, err = cli.ServeMetrics("--metrics-listen", o.metricsListen, s.reg, o.log); err != nil {
			return nil, fmt.Errorf("%w, or leave it empty to serve /metrics on --listen", err) // cli.Listen's fix, continued
		}
	}
	o.log.Info("gateway listening", "addr", s.ln.Addr().String())
	return s, nil
}

// close closes what listen opened, last opened first: the --metrics-listen
// server (after the loops' last metrics), the wait's context, the --listen
// server (its connections cut, on a return before the shutdown) and
// listener, and the --pprof server.
func (s *listening) close() {
	if s.metrics != nil {
		s.metrics.Close()
	}
	if s.endWait != nil {
		s.endWait()
	}
	if s.srv != nil {
		s.srv.Close()
	}
	if s.ln != nil {
		s.ln.Close()
	}
	if s.pprof != nil {
		s.pprof.Close()
	}
}

// stopStarting ends a start that err stopped before the API was wired:
// a failure of serving, if there was one, is returned; else the front is
// shut down, and a stop (err is ctx's own error) is no failure, as every
// request but /healthz and /metrics was answered 503; any other err is
// returned, even if ctx has ended meanwhile.
func (s *listening) stopStarting(ctx context.Context, err error) error {
	select {
	case err := <-s.serveErr:
		return err
	default:
	}
	graceCtx, cancel := s.o.grace(s.o.log)
	defer cancel()
	if err := shutdown(graceCtx, s.srv); err != nil {
		// The stop cut no vote: a supervisor must not count it as a failure.
		s.o.log.Warn("stopped before the election record was read: requests still open after the grace period were cut", "err", err)
	}
	return election.StopIsNoFailure(ctx, err, "gateway", s.o.log)
}

// serveUntilStop waits until ctx ends or serving on s's --listen fails
// (meanwhile s's front answers with g's API: run has switched it), then
// stops g on s's server with gateway.stop (its doc says what a stop does;
// --shutdown-timeout's help, how long it may take in all), given the grace
// period options.grace starts then. It returns serving's failure, or nil after a
// stop, logged "gateway stopped"; run then closes the ledger, Redis and s.
func serveUntilStop(ctx context.Context, s *listening, g *gateway, stopLoops context.CancelFunc) error {
	var serveFailed error
	select {
	case serveFailed = <-s.serveErr:
	case <-ctx.Done():
	}
	graceCtx, cancel := s.o.grace(s.o.log)
	defer cancel()
	g.stop(graceCtx, s.srv, stopLoops, s.o.log)
	if serveFailed != nil {
		return serveFailed
	}
	s.o.log.Info("gateway stopped")
	return nil
}

// applyProcess applies the options' settings of the whole process:
// --procs (GOMAXPROCS, if above 0), the collector's (cli.GC.Apply) and
// go-redis's logger (o.log). It returns the collector's settings, for the
// start-up log line.
func (o *options) applyProcess() slog.Attr {
	if o.procs > 0 {
		runtime.GOMAXPROCS(o.procs)
	}
	gc := o.gc.Apply(o.log)
	redis.SetLogger(cli.RedisLogger{Log: o.log})
	return gc
}

// redisClient is the client of the Redis the options name (its
// connections made by its calls), tuned for the intake (dedup.TuneClient),
// and whether that Redis is a cluster. It changes no option. The caller
// closes the client.
func (o *options) redisClient() (redis.UniversalClient, bool, error) {
	ropts, err := o.redis.Options()
	if err != nil {
		return nil, false, err
	}
	dedup.TuneClient(ropts, o.dedup)
	return redisserver.NewClient(ropts), ropts.IsClusterMode, nil
}

// waitReplicas is the number of replicas that must acknowledge a vote
// (dedup.Config.Replicas, which run sets to it): --redis-replicas, its -1
// as 1 on a Redis Cluster (cluster) and 0 on a single server.
func (o *options) waitReplicas(cluster bool) int {
	switch {
	case o.replicas >= 0:
		return o.replicas
	case cluster:
		return 1
	default:
		return 0
	}
}

// newFront is the registry the gateway's /metrics serves from its start,
// with Go's and the process's collectors (wire adds the rest), and the
// front of its API listener, answering as the gateway starting until it is
// handed the API.
func newFront(o *options) (*prometheus.Registry, *httpapi.Front, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	front, err := httpapi.NewFront(o.http, reg, o.log)
	return reg, front, err
}

// grace logs that the gateway shuts down and returns the context of its
// grace period, --shutdown-timeout from now: the budget of the requests in
// flight, and of the background loops after them, which gateway.stop
// gives at least their own stop timeout.
func (o *options) grace(log *slog.Logger) (context.Context, context.CancelFunc) {
	log.Info("shutting down", "grace", o.shutdownTimeout.String())
	return context.WithTimeout(context.Background(), o.shutdownTimeout)
}

// shutdown shuts srv down gracefully: no new connections, requests in
// flight may finish until ctx ends.
func shutdown(ctx context.Context, srv *http.Server) error {
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// loadFiles reads and checks what the options name on disk, before the
// gateway waits for Redis and the ledger: the intake log's signing key
// (--log-key, unless the log is off or signs nothing) into o.logKey, and the
// results checkpoint's folder, which must take files (--results-checkpoint).
// Its errors (exit 1) name the flag.
func (o *options) loadFiles() error {
	if err := results.CheckPath(o.resultsFile); err != nil {
		return fmt.Errorf("--results-checkpoint %s: %w", o.resultsFile, err)
	}
	if !o.intakeLog || o.logKeyFile == "" {
		return nil
	}
	key, err := intakelog.LoadKey(o.logKeyFile)
	if err != nil {
		return fmt.Errorf("--log-key %s: %w (make up creates it; or set --log-key to another key, or --intake-log=false)", o.logKeyFile, err)
	}
	o.logKey = key
	return nil
}

// gateway is the wired gateway: its API server, the intake (closed last)
// behind the gate its API calls, and its background loops, which all end
// with the context wire was given (the intake log's after a closing round,
// within loopsStop).
type gateway struct {
	api        *httpapi.Server
	intake     *intakeGate
	intakeWait time.Duration // the longest an Accept in flight is waited for at a stop: the intake's longest Accept (dedup.Config.MaxAcceptTime)
	loops      *sync.WaitGroup
	loopsStop  time.Duration // the longest the loops may take to end (the intake log's StopTimeout; 0 without it)
}

// minLoopsWait is the least a stop waits for the background loops, however
// little of the grace is left: loops that end in milliseconds are not cut.
const minLoopsWait = time.Second

// answerWait is how long a stop whose grace ran out gives the requests
// still being handled, once the Accepts in flight returned, to write their
// answers before they are cut.
const answerWait = time.Second

// closeWait is the longest a stop waits for the intake to close (its
// workers to end) once the loops have stopped: an Accept's wait that gave
// up left its calls running to their own timeouts; Redis's closing then
// cuts them.
const closeWait = 2 * time.Second

// stop ends the gateway: srv shuts down gracefully within grace (no new
// connections; the requests in flight finish). Then the intake refuses new
// votes (503 stopping) and the Accepts in flight are waited for up to
// g.intakeWait (dedup.Config.MaxAcceptTime), so that the intake log's
// closing round covers every vote accepted; those still in flight then
// are aborted (dedup.Deduper.Abort: they answer 503 at once, and no Redis
// call starts after it, so no vote is sent to Redis during the closing
// round). If
// the grace ran out this happens before the requests still being handled
// are cut (srv.Close, logged at warn, after answerWait more), so they
// carry the 503 stopping of a vote refused and the answer of one stored.
// Then the background loops end (stopLoops ends wire's context) and are
// waited for until grace ends, but at least g.loopsStop plus minLoopsWait
// from now (slack over the intake log's worst case), and the intake is
// closed, waited for up to closeWait. Each step that gives up is logged at
// warn; the caller's closing of Redis and the ledger cuts what still runs.
func (g *gateway) stop(grace context.Context, srv *http.Server, stopLoops context.CancelFunc, log *slog.Logger) {
	graceRanOut := shutdown(grace, srv) != nil
	accepts := g.intake.refuse()
	if graceRanOut {
		log.Warn("shutting down: the grace period ran out with requests still being handled; new votes are refused (503 stopping)", "accepts_in_flight", accepts)
	}
	if accepts > 0 {
		log.Info(fmt.Sprintf("shutting down: waiting for %d Accepts in flight", accepts), "accepts_in_flight", accepts, "timeout", g.intakeWait.String())
		if left := g.intake.drain(g.intakeWait); left > 0 {
			log.Warn(fmt.Sprintf("shutting down: %d Accepts still in flight after the intake's longest Accept: aborted (503); a vote among them may be stored yet missed by the closing round", left), "accepts_in_flight", left, "timeout", g.intakeWait.String())
		}
	}
	if graceRanOut {
		// The handlers whose Accepts returned write their answers, then
		// their connections close; what is still open is cut. A stop that
		// cut only unanswered requests is no failure.
		answered, cancel := context.WithTimeout(context.Background(), answerWait)
		defer cancel()
		if shutdown(answered, srv) != nil {
			srv.Close()
			log.Warn("shutting down: requests still being handled after the grace period and the wait for their answers were cut", "answer_wait", answerWait.String())
		}
	}
	stopLoops()
	wait := g.loopsStop + minLoopsWait
	if deadline, ok := grace.Deadline(); ok {
		wait = max(wait, time.Until(deadline))
	}
	// A loop ignoring its context leaves waitWithin's goroutine behind.
	if !waitWithin(g.loops.Wait, wait) {
		log.Warn("shutting down: background loops still running after the grace period and their own stop timeout", "stop_timeout", g.loopsStop.String())
	}
	if !waitWithin(g.intake.Close, closeWait) {
		log.Warn("shutting down: the intake's Redis calls still running; closing Redis cuts them", "timeout", closeWait.String())
	}
}

// wire builds the gateway's parts over Redis and the ledger for election e,
// their metrics registered on reg (newFront's), and, once none can fail,
// starts their background loops (the results cache, the intake log, the
// API's pollers and ledger probe) on ctx: an error leaves none running.
// The intake log signs with o.logKey (loadFiles; nil: it signs nothing).
// The caller ends the gateway with g.stop, which closes g.intake once the
// loops have stopped.
func wire(ctx context.Context, o *options, secret []byte, rdb redis.UniversalClient, l ledger, elections *election.Cache, e *ballot.Election, reg *prometheus.Registry) (*gateway, error) {
	log := o.log
	g := &gateway{loops: &sync.WaitGroup{}}
	var loops []func() // started once nothing can fail
	cache := results.New(l, o.resultsFile, e.States, e.Contests, log)
	loops = append(loops, func() { cache.Run(ctx) })
	states := func(ctx context.Context) ([]string, error) {
		e, err := elections.Election(ctx)
		if err != nil {
			return nil, err
		}
		return e.States, nil
	}
	reg.MustRegister(cache)
	var ilog httpapi.IntakeLog
	if o.intakeLog {
		cfg := o.intakeLogConfig(reg)
		il := intakelog.New(rdb, l, cfg, log)
		loops = append(loops, func() { il.Run(ctx, elections) })
		ilog, o.dedup.Logged, g.loopsStop = il, il.Observe, cfg.StopTimeout()
	}
	o.http.Secret = secret
	o.page.Now = o.http.Now
	page, err := voterweb.New(o.page, voterweb.Deps{Elections: elections, Log: log})
	if err != nil {
		return nil, err
	}
	intake := dedup.New(rdb, l, o.dedup, log)
	g.intake, g.intakeWait = &intakeGate{closingIntake: intake}, intake.MaxAcceptTime()
	g.api, err = httpapi.New(o.http, httpapi.Deps{
		Elections: elections,
		Ledger:    l,
		Intake:    g.intake,
		Results:   cache,
		Receipts:  receipt.New(l, receipt.RedisStore{RDB: rdb, States: states}, secret, e.ID, o.receiptBatches),
		IntakeLog: ilog,
		Registry:  reg,
		Log:       log,
		VoterPage: page,
	})
	if err != nil {
		g.intake.Close()
		return nil, err
	}
	loops = append(loops, func() { g.api.Run(ctx) })
	for _, loop := range loops {
		g.loops.Go(loop)
	}
	return g, nil
}

// intakeLogConfig is the intake log's configuration from the options, its
// metrics registered on reg (nil: none).
func (o *options) intakeLogConfig(reg prometheus.Registerer) intakelog.Config {
	return intakelog.Config{Key: o.logKey, Interval: o.logInterval, Registry: reg}
}
