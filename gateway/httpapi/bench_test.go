package httpapi

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/benchenv"
)

// benchParallelism is concurrent requests per GOMAXPROCS: enough in flight
// for the intake to batch, as under a surge.
const benchParallelism = 64

// BenchmarkVoteIntake measures votes accepted per second through the whole
// handler (decode, election checks, HMAC, Lua dedup, XADD, fsync'ed AOF on a
// real redis-server), against a bare gin handler answering 202 in the same
// run, so the ratio is the intake's cost. Every request is a distinct
// eligible voter and must be accepted.
func BenchmarkVoteIntake(b *testing.B) {
	b.Run("bare-gin-202", func(b *testing.B) {
		runVotes(b, bareGin(), func(int) {}, benchVote)
	})
	// The API's own cost: the whole handler with an intake that accepts
	// at once.
	b.Run("instant-intake", func(b *testing.B) {
		runVotes(b, newInstantServer(b).Handler(), func(int) {}, benchVote)
	})
	b.Run("redis-intake", func(b *testing.B) {
		f := newFixture(b, fixtureOpts{cfg: Config{MaxQueueDepth: -1}})
		runVotes(b, f.srv.Handler(), func(n int) { f.enrollMany("CA", "c", n, benchVoter) }, benchVote)
	})
	// A referendum: each vote names one of three contests.
	b.Run("redis-intake-contests", func(b *testing.B) {
		f := newFixture(b, fixtureOpts{cfg: Config{MaxQueueDepth: -1}})
		f.elections.set(testReferendum())
		runVotes(b, f.srv.Handler(), func(n int) { f.enrollMany("CA", "c", n, benchVoter) }, func(i int) string {
			return voteIn(benchVoter(i), "c", "CA", []string{"L1", "L2", "L3"}[i%3], "oui")
		})
	})
}

// bareGin is a gin engine answering every vote a fixed 202.
func bareGin() *gin.Engine {
	g := gin.New()
	g.POST("/api/v1/vote", func(c *gin.Context) {
		c.JSON(http.StatusAccepted, voteAccepted{VoteID: "0", Status: "pending", ReceiptURL: ballot.ReceiptPath("0")})
	})
	return g
}

// BenchmarkDecodeVote measures the strict vote decoder on the bodies
// clients send, with and without the optional contest (the one-pass path),
// and on one with an escape (the encoding/json path).
func BenchmarkDecodeVote(b *testing.B) {
	for name, body := range map[string]string{
		"sole-contest":  voteBody("voter-000001", "credential-1", "CA", "alice"),
		"named-contest": voteIn("voter-000001", "credential-1", "CA", "L2025-001", "oui"),
		"escaped":       `{"voter_id":"voter-00000\u0031","credential":"credential-1","state":"CA","contest":"L2025-001","choice":"oui"}`,
	} {
		b.Run(name, func(b *testing.B) {
			raw := []byte(body)
			var v [5]string
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeFields(raw, voteFields, v[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchVote(i int) string { return voteBody(benchVoter(i), "c", "CA", "alice") }

// runVotes posts b.N distinct votes, body(i) for i in [0, b.N), in
// parallel and reports votes/s.
func runVotes(b *testing.B, h http.Handler, prepare func(n int), body func(i int) string) {
	prepare(b.N)
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			req := httptest.NewRequest(http.MethodPost, "/api/v1/vote", strings.NewReader(body(i)))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Errorf("vote %d: %d %s", i, rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}

func benchVoter(i int) string { return fmt.Sprintf("bench-%08d", i) }

// loopbackClientEnv, when set in the environment of the test binary, makes
// it a load client instead of running tests (see TestMain): "url n conc
// rate states" posts n distinct votes (voter benchVoter(i) in the i-th of
// the comma-separated states, round robin) with conc keep-alive
// connections, at rate votes/s (0: as fast as they are answered), and
// exits 0 only if every one was accepted.
const loopbackClientEnv = "VOTECHAIN_LOOPBACK_CLIENT"

// BenchmarkVoteLoopback serves the whole handler on a loopback TCP listener
// and drives it from a separate client process (this test binary re-run as
// a client), so the CPU this process and redis-server use is the intake's
// alone: it reports gateway and Redis CPU per accepted vote from /proc
// (B/op and allocs/op with -benchmem are the gateway's per request), and
// the load client's (client-µs/vote; the bench's own load generator with
// VOTECHAIN_LOOPBACK_LOADGEN),
// with the intake log off and on (its signer following the log and signing
// a head every second, as in production) in the same run.
func BenchmarkVoteLoopback(b *testing.B) {
	key, _ := testLogKey()
	for _, c := range []struct {
		name string
		key  ed25519.PrivateKey
	}{{"log-off", nil}, {"log-on", key}} {
		b.Run(c.name, func(b *testing.B) {
			accept := &latencies{}
			f := newFixture(b, fixtureOpts{cfg: Config{MaxQueueDepth: -1}, logKey: c.key, logInterval: time.Second,
				dedup:      loopbackDedup(b),
				wrapIntake: func(in Intake) Intake { return timedIntake{Intake: in, lat: accept} }})
			loopback(b, f, accept)
		})
	}
}

// loopback runs serveLoopback over f's server in the states the
// environment asks for, and reports Redis's costs per vote and where the
// 202's tail was spent (reportTail): accept holds the Deduper's Accept
// times, which it empties first.
func loopback(b *testing.B, f *fixture, accept *latencies) {
	nStates := benchenv.Int(b, loopbackStatesEnv, 1, 0)
	states := loopbackStates[:min(nStates, len(loopbackStates))]
	if len(states) > 1 {
		e := testElection()
		e.States = states
		f.elections.set(e)
	}
	voters := b.N
	if os.Getenv(loopbackLoadgenEnv) != "" {
		voters = loadgenVoters(b.N, benchenv.Int(b, loopbackRateEnv, 0, 0))
	}
	for s, st := range states { // voter i votes in states[i % len(states)]
		f.enrollMany(st, "c", (voters-s+len(states)-1)/len(states), func(j int) string { return benchVoter(j*len(states) + s) })
	}
	ctx := context.Background()
	// Redis's own view of the tail: its slowest fsyncs (the latency
	// monitor, over 1 ms) and the script's execution times.
	if err := f.rdb.ConfigSet(ctx, "latency-monitor-threshold", "1").Err(); err != nil {
		b.Fatal(err)
	}
	if err := f.rdb.Do(ctx, "LATENCY", "RESET").Err(); err != nil {
		b.Fatal(err)
	}
	if err := f.rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	accept.reset()
	r0 := redisStats(b, f)
	rd0, rq0 := cpuOf(b, f.redis.PID()), runDelay(b, f.redis.PID())
	tail := serveLoopback(b, f.srv.HTTPServer(""), states)
	rd, rq := cpuOf(b, f.redis.PID())-rd0, runDelay(b, f.redis.PID())-rq0
	r := redisStats(b, f)
	tail.accept = accept.summary()
	tail.redisRunDelay = rq
	tail.fsyncs, tail.fsyncWorst = redisLatency(b, f, "aof-fsync-always")
	tail.scriptP99, tail.scriptP999 = scriptLatency(b, f)
	reportTail(b, tail)
	n := float64(b.N)
	b.ReportMetric(float64(rd.Microseconds())/max(tail.n, 1), "redis-µs/vote") // per accepted vote, as gw-µs/vote
	if calls := r.scriptCalls - r0.scriptCalls; calls > 0 {
		b.ReportMetric(n/float64(calls), "votes/call")
	}
	b.ReportMetric(float64(r.commands-r0.commands)/n, "redis-cmds/vote")
	b.ReportMetric(float64(r.aofBytes-r0.aofBytes)/n, "aof-B/vote")
}

// BenchmarkHTTPLoopback measures the gateway's HTTP cost per vote alone:
// BenchmarkVoteLoopback's server and load client, with an intake that
// accepts every vote at once (no Redis), against a bare gin handler
// answering 202 over the same server settings in the same run. gw-µs/vote
// is then net/http, gin, the middlewares and the handler; the difference
// between the two is the API's own share.
func BenchmarkHTTPLoopback(b *testing.B) {
	srv := newInstantServer(b)
	b.Run("bare-gin-202", func(b *testing.B) {
		hs := srv.HTTPServer("")
		hs.Handler = bareGin()
		serveLoopback(b, hs, loopbackStates[:1])
	})
	b.Run("api-instant-intake", func(b *testing.B) {
		serveLoopback(b, srv.HTTPServer(""), loopbackStates[:1])
	})
}

// newInstantServer is the API over instantIntake, serving testElection.
func newInstantServer(b *testing.B) *Server {
	srv, err := New(Config{Secret: testSecret, MaxQueueDepth: -1}, Deps{
		Elections: &staticElections{e: testElection()}, Ledger: &staticElections{e: testElection()},
		Intake: instantIntake{}, Results: loadedResults(b), Receipts: fakeReceipts{},
		Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// instantIntake accepts every vote at once, storing nothing.
type instantIntake struct{ Intake }

func (instantIntake) Accept(context.Context, dedup.Attempt) (dedup.Result, error) {
	return dedup.Result{Outcome: dedup.Accepted, LogIndex: -1}, nil
}

// serveLoopback serves hs (its Handler and settings) on a loopback TCP
// listener and posts b.N votes to it from the load client, a separate
// process (this test binary re-run), in the given states; it reports
// votes/s, this process's CPU per vote (the client's left out) and its
// threads' context switches per vote (gw-ctxsw/vote).
func serveLoopback(b *testing.B, hs *http.Server, states []string) tailSplit {
	handler := &latencies{}
	h := hs.Handler
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		handler.add(time.Since(t0))
	})
	ts := httptest.NewUnstartedServer(hs.Handler)
	ts.Config = hs
	ts.Start()
	defer ts.Close()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	client := exec.Command(exe, "-test.run=^$")
	conns, rate := benchenv.Int(b, loopbackConnsEnv, benchParallelism, 0), benchenv.Int(b, loopbackRateEnv, 0, 0)
	client.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %d %s", loopbackClientEnv, ts.URL, b.N, conns, rate, strings.Join(states, ",")))
	var out strings.Builder
	client.Stdout, client.Stderr = &out, os.Stderr
	gw0, cs0, rq0, ps0, gc0 := cpuOf(b, os.Getpid()), ctxSwitches(b), runDelay(b, os.Getpid()), measure.ReadStalls(), readGC()
	b.ResetTimer()
	if err := client.Run(); err != nil {
		b.Fatalf("load client: %v", err)
	}
	b.StopTimer()
	gw, cs, rq := cpuOf(b, os.Getpid())-gw0, ctxSwitches(b)-cs0, runDelay(b, os.Getpid())-rq0
	ps, gc := pressureShares(measure.ReadStalls().Since(ps0), b.Elapsed()), readGC().since(gc0)
	// /proc counts a waited-for child's CPU as its parent's: the client's
	// is not the gateway's.
	lg := client.ProcessState.UserTime() + client.ProcessState.SystemTime()
	gw -= lg
	n := float64(b.N)
	tail := tailSplit{handler: handler.summary(), gwRunDelay: rq, pressure: ps, gc: gc}
	var p50, p95, p99, maxMs float64
	var clientRQ int64
	if _, err := fmt.Sscanf(out.String(), "accepted %g latency %g %g %g %g rundelay %d", &n, &p50, &p95, &p99, &maxMs, &clientRQ); err != nil || n == 0 {
		b.Fatalf("load client said %q, not how many votes were accepted and their latency", out.String())
	}
	tail.client = tailLatency{p50: ms(p50), p95: ms(p95), p99: ms(p99), max: ms(maxMs)}
	tail.clientRunDelay, tail.n = time.Duration(clientRQ), n
	b.ReportMetric(n/b.Elapsed().Seconds(), "votes/s")
	b.ReportMetric(float64(gw.Microseconds())/n, "gw-µs/vote")
	b.ReportMetric(float64(lg.Microseconds())/n, "client-µs/vote")
	b.ReportMetric(float64(cs)/n, "gw-ctxsw/vote")
	return tail
}

// ctxSwitches is the context switches of this process's threads so far
// (voluntary and not, from /proc/self/task/*/status): how often the
// gateway's threads went to sleep or were put aside, which is what its
// CPU per vote follows more than the work its handlers do.
func ctxSwitches(b *testing.B) int64 {
	files, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended meanwhile
		}
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}

// loopbackStates are the states of `make bench`'s election, which
// BenchmarkVoteLoopback spreads its votes over (VOTECHAIN_LOOPBACK_STATES
// of them; default 1).
var loopbackStates = []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}

// loopbackStatesEnv and loopbackRateEnv set BenchmarkVoteLoopback's number
// of states and its offered rate in votes/s (default 0: each connection
// sends its next vote as soon as the last is answered; a rate offers votes
// at that pace, open loop, as the bench's fixed-rate phases do, so the
// intake batches as it does at that rate).
const (
	loopbackStatesEnv = "VOTECHAIN_LOOPBACK_STATES"
	loopbackRateEnv   = "VOTECHAIN_LOOPBACK_RATE"
)

// loopbackWorkersEnv and loopbackLingerEnv set BenchmarkVoteLoopback's
// intake: its concurrent script calls (dedup.Config.Workers) and linger
// (a duration, as the gateway's --linger; negative: none); unset, the
// gateway's defaults.
const (
	loopbackWorkersEnv = "VOTECHAIN_LOOPBACK_WORKERS"
	loopbackLingerEnv  = "VOTECHAIN_LOOPBACK_LINGER"
)

// loopbackDedup is the intake's configuration the environment asks for.
func loopbackDedup(b *testing.B) dedup.Config {
	c := dedup.Config{Workers: benchenv.Int(b, loopbackWorkersEnv, 0, 0)}
	if v := os.Getenv(loopbackLingerEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("%s=%q: %v", loopbackLingerEnv, v, err)
		}
		c.Linger = d
	}
	return c
}

// redisCounters are Redis's totals BenchmarkVoteLoopback reports per vote.
type redisCounters struct {
	scriptCalls, commands, aofBytes int64
}

// redisStats reads Redis's script calls, commands (INFO commandstats, a
// script's own commands included, INFO left out) and AOF size.
func redisStats(b *testing.B, f *fixture) redisCounters {
	info, err := f.rdb.Info(context.Background(), "commandstats", "persistence").Result()
	if err != nil {
		b.Fatal(err)
	}
	var c redisCounters
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok && !strings.HasPrefix(rest, "info:") {
			name, stats, _ := strings.Cut(rest, ":calls=")
			n, _ := strconv.ParseInt(stats[:strings.IndexByte(stats, ',')], 10, 64)
			c.commands += n
			if name == "evalsha" {
				c.scriptCalls = n
			}
		}
		if rest, ok := strings.CutPrefix(line, "aof_current_size:"); ok {
			c.aofBytes, _ = strconv.ParseInt(rest, 10, 64)
		}
	}
	return c
}

// loopbackConnsEnv sets BenchmarkVoteLoopback's client connections
// (default benchParallelism; bench/loadgen's client opens what it needs).
// With loopbackLoadgenEnv set (to anything) the client is the bench's load
// generator (bench/loadgen's Runner at VOTECHAIN_LOOPBACK_RATE, which it
// needs), so client-µs/vote is what the bench's load costs per vote; and
// with loopbackClientProfileEnv set, the client writes its CPU profile
// there; loopbackClientProcsEnv sets the client's GOMAXPROCS (GOMAXPROCS
// in the environment sets both processes', except the load generator's
// while it runs, which is its Runner's Procs, 1, unless
// loopbackClientProcsEnv is set).
const (
	loopbackClientProcsEnv   = "VOTECHAIN_LOOPBACK_CLIENT_PROCS"
	loopbackConnsEnv         = "VOTECHAIN_LOOPBACK_CONNS"
	loopbackLoadgenEnv       = "VOTECHAIN_LOOPBACK_LOADGEN"
	loopbackClientProfileEnv = "VOTECHAIN_LOOPBACK_CLIENT_PROFILE"
)

func cpuOf(b *testing.B, pid int) time.Duration {
	u, err := measure.ReadProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	return u.CPU
}

// runLoopbackClient is the client side of BenchmarkVoteLoopback.
func runLoopbackClient(spec string) error {
	var url, states string
	var n, conc, rate int
	if _, err := fmt.Sscan(spec, &url, &n, &conc, &rate, &states); err != nil {
		return fmt.Errorf("%s=%q: %w", loopbackClientEnv, spec, err)
	}
	st := strings.Split(states, ",")
	if path := os.Getenv(loopbackClientProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if p := os.Getenv(loopbackClientProcsEnv); p != "" {
		procs, err := strconv.Atoi(p)
		if err != nil || procs < 1 {
			return fmt.Errorf("%s=%q: want a positive number", loopbackClientProcsEnv, p)
		}
		runtime.GOMAXPROCS(procs)
	}
	if os.Getenv(loopbackLoadgenEnv) != "" {
		return runLoadgenClient(url, n, rate, st)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: time.Minute}
	// next hands out vote numbers: at once, or paced at rate votes/s.
	next := make(chan int, conc)
	go func() {
		defer close(next)
		start := time.Now()
		for i := range n {
			if rate > 0 {
				if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > time.Millisecond {
					time.Sleep(d)
				}
			}
			next <- i
		}
	}()
	var g errgroup.Group
	lat := make([][]time.Duration, conc) // each connection's 202 latencies
	for c := range conc {
		g.Go(func() error {
			for i := range next {
				t0 := time.Now()
				resp, err := hc.Post(url+"/api/v1/vote", "application/json", strings.NewReader(voteBody(benchVoter(i), "c", st[i%len(st)], "alice")))
				if err != nil {
					return err
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					return fmt.Errorf("vote %d: %d %s", i, resp.StatusCode, body)
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	all := slices.Sorted(slices.Values(slices.Concat(lat...)))
	t := summarize(all)
	fmt.Fprintf(os.Stderr, "loopback: %d votes at %d/s: 202 latency p50 %v p99 %v max %v\n", len(all), rate, t.p50, t.p99, t.max)
	printAccepted(n, t)
	return nil
}

// loadgenMinPhase is the shortest phase the bench's load generator is run
// for: a phase of one vote at a high rate would end before its first
// request went out.
const loadgenMinPhase = 20 * time.Millisecond

// loadgenVoters is how many voters loopback enrolls for n votes offered at
// rate through the bench's load generator: it picks states by population,
// so room for its skew, and a shortest phase may offer more than n.
func loadgenVoters(n, rate int) int {
	return n + n/4 + 100 + int(int64(rate)*int64(loadgenMinPhase)/int64(time.Second))
}

// runLoadgenClient offers n votes at rate votes/s through bench/loadgen's
// Runner (its generator over a roll of the voters the benchmark enrolled:
// benchVoter(i) in states[i % len(states)], credential "c"), and fails
// unless every vote sent was accepted.
func runLoadgenClient(url string, n, rate int, states []string) error {
	if rate <= 0 {
		return fmt.Errorf("%s needs %s", loopbackLoadgenEnv, loopbackRateEnv)
	}
	voters := loadgenVoters(n, rate) // as loopback enrolled them
	r := &loadgen.Roll{States: states, Voters: make([][]roll.Entry, len(states))}
	for i := range voters {
		s := i % len(states)
		r.Voters[s] = append(r.Voters[s], roll.Entry{VoterID: benchVoter(i), Credential: "c", State: states[s]})
	}
	gen, err := loadgen.NewGenerator(r, testElection().Contests, loadgen.Mix{}, 1)
	if err != nil {
		return err
	}
	runner := &loadgen.Runner{URL: url + "/api/v1/vote", Gen: gen, Rec: loadgen.NewRecorder(time.Now())}
	if os.Getenv(loopbackClientProcsEnv) != "" {
		runner.Procs = -1 // as runLoopbackClient set it, not the Runner's default
	}
	d := max(time.Duration(n)*time.Second/time.Duration(rate), loadgenMinPhase)
	p, err := runner.Constant(context.Background(), "loopback", float64(rate), d)
	if err != nil {
		return err
	}
	if p.Accepted == 0 || p.Accepted != p.Sent {
		return fmt.Errorf("%d of %d votes accepted (409 %d, 403 %d, 503 %d, other %d, errors %d: %v)",
			p.Accepted, p.Sent, p.Duplicates, p.Ineligible, p.Overloaded, p.OtherStatus, p.Errors, p.ErrorSamples)
	}
	fmt.Fprintf(os.Stderr, "loadgen: %d votes at %d/s (sent %.0f/s): 202 latency p50 %.2f p99 %.2f ms\n",
		p.Accepted, rate, p.SentPerS, p.AcceptLatency.P50ms, p.AcceptLatency.P99ms)
	l := p.AcceptLatency
	printAccepted(p.Accepted, tailLatency{p50: ms(l.P50ms), p95: ms(l.P95ms), p99: ms(l.P99ms), max: ms(l.MaxMs)})
	return nil
}

// tailLatency is a latency distribution's points the tail split reports.
type tailLatency struct{ p50, p95, p99, max time.Duration }

// summarize reads a sorted sample's points (zero for none).
func summarize(sorted []time.Duration) tailLatency {
	if len(sorted) == 0 {
		return tailLatency{}
	}
	return tailLatency{p50: measure.Percentile(sorted, 50), p95: measure.Percentile(sorted, 95),
		p99: measure.Percentile(sorted, 99), max: sorted[len(sorted)-1]}
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// printAccepted is the load client's answer to serveLoopback: how many
// votes were accepted, their 202 latency (p50, p95, p99 and max in ms) and
// the client's own threads' run-queue wait (ns, runDelay).
func printAccepted(n int, t tailLatency) {
	rq, _ := readRunDelay(os.Getpid())
	f := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Printf("accepted %d latency %.3f %.3f %.3f %.3f rundelay %d\n", n, f(t.p50), f(t.p95), f(t.p99), f(t.max), rq.Nanoseconds())
}

// tailSplit is where BenchmarkVoteLoopback's 202s spent their time, from
// the outside in: the client's latency (send to answer), the gateway's
// handler (its ServeHTTP), the Deduper's Accept in it (the wait for a
// micro-batch, its script call and the answer's hand-back), and Redis's
// slowest fsyncs and script executions; with the run-queue waits of the
// three processes (time runnable but not running, from schedstat).
type tailSplit struct {
	n                         float64
	client, handler, accept   tailLatency
	fsyncs                    int           // seconds with an fsync over 1 ms
	fsyncWorst                time.Duration // the slowest fsync
	scriptP99, scriptP999     time.Duration // EVALSHA's execution in Redis
	gwRunDelay, redisRunDelay time.Duration
	clientRunDelay            time.Duration
	pressure                  pressure // the machine's, over the run
	gc                        gcStats  // the gateway's collector, over the run
}

// reportTail reports the split as benchmark metrics.
func reportTail(b *testing.B, t tailSplit) {
	f := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(f(t.client.p50), "client-p50-ms")
	b.ReportMetric(f(t.client.p99), "client-p99-ms")
	b.ReportMetric(f(t.client.max), "client-max-ms")
	b.ReportMetric(f(t.handler.p99), "handler-p99-ms")
	b.ReportMetric(f(t.handler.max), "handler-max-ms")
	b.ReportMetric(f(t.accept.p50), "accept-p50-ms")
	b.ReportMetric(f(t.accept.p99), "accept-p99-ms")
	b.ReportMetric(f(t.accept.max), "accept-max-ms")
	b.ReportMetric(f(t.scriptP99), "script-p99-ms")
	b.ReportMetric(f(t.scriptP999), "script-p99.9-ms")
	b.ReportMetric(f(t.fsyncWorst), "fsync-max-ms")
	b.ReportMetric(float64(t.fsyncs), "fsync-slow-s")
	b.ReportMetric(t.gc.cycles, "gc-cycles")
	b.ReportMetric(f(t.gc.maxPause), "gc-pause-max-ms")
	b.ReportMetric(f(t.gc.assist), "gc-assist-ms")
	b.ReportMetric(t.pressure.cpuSome, "psi-cpu-some-%")
	b.ReportMetric(t.pressure.memSome, "psi-mem-some-%")
	b.ReportMetric(t.pressure.memFull, "psi-mem-full-%")
	b.ReportMetric(t.pressure.ioSome, "psi-io-some-%")
	if t.n > 0 {
		us := func(d time.Duration) float64 { return float64(d.Microseconds()) / t.n }
		b.ReportMetric(us(t.gwRunDelay), "gw-runq-µs/vote")
		b.ReportMetric(us(t.redisRunDelay), "redis-runq-µs/vote")
		b.ReportMetric(us(t.clientRunDelay), "client-runq-µs/vote")
	}
}

// latencies collects durations from concurrent callers.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) reset() {
	l.mu.Lock()
	l.d = l.d[:0]
	l.mu.Unlock()
}

func (l *latencies) summary() tailLatency {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(slices.Sorted(slices.Values(l.d)))
}

// timedIntake records how long each Accept takes.
type timedIntake struct {
	Intake
	lat *latencies
}

func (t timedIntake) Accept(ctx context.Context, a dedup.Attempt) (dedup.Result, error) {
	t0 := time.Now()
	r, err := t.Intake.Accept(ctx, a)
	t.lat.add(time.Since(t0))
	return r, err
}

// runDelay is the time the threads of process pid spent runnable but
// waiting for a CPU, as far as /proc/PID/task/*/schedstat still holds them.
func runDelay(b *testing.B, pid int) time.Duration {
	d, err := readRunDelay(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func readRunDelay(pid int) (time.Duration, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("schedstat of %d: %v", pid, err)
	}
	var total int64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended meanwhile
		}
		var run, wait int64
		if _, err := fmt.Sscan(string(data), &run, &wait); err == nil {
			total += wait
		}
	}
	return time.Duration(total), nil
}

// redisLatency reads the latency monitor's event: how many seconds had one
// over the threshold, and the worst.
func redisLatency(b *testing.B, f *fixture, event string) (int, time.Duration) {
	reply, err := f.rdb.Do(context.Background(), "LATENCY", "HISTORY", event).Result()
	if err != nil {
		b.Fatal(err)
	}
	samples, err := measure.ParseLatencyHistory(reply)
	if err != nil {
		b.Fatal(err)
	}
	var worst time.Duration
	for _, s := range samples {
		worst = max(worst, time.Duration(s.MS)*time.Millisecond)
	}
	return len(samples), worst
}

// scriptLatency reads EVALSHA's p99 and p99.9 execution time from INFO
// latencystats (since the last CONFIG RESETSTAT).
func scriptLatency(b *testing.B, f *fixture) (p99, p999 time.Duration) {
	info, err := f.rdb.Info(context.Background(), "latencystats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "latency_percentiles_usec_evalsha:"); ok {
			for kv := range strings.SplitSeq(rest, ",") {
				k, v, _ := strings.Cut(kv, "=")
				us, _ := strconv.ParseFloat(v, 64)
				d := time.Duration(us * float64(time.Microsecond))
				switch k {
				case "p99":
					p99 = d
				case "p99.9":
					p999 = d
				}
			}
		}
	}
	return p99, p999
}

// pressure is the machine's stall shares over a run, in % of its wall
// time (measure.Stalls): cpuSome, some runnable task waiting for a CPU;
// memSome and memFull, some or every non-idle task stalled on memory
// (reclaim, compaction, refaults); ioSome, some task waiting for I/O.
type pressure struct{ cpuSome, memSome, memFull, ioSome float64 }

// pressureShares turns the stalls of a run d long into shares of d.
func pressureShares(s measure.Stalls, d time.Duration) pressure {
	pct := func(ms float64) float64 { return ms / float64(d.Milliseconds()) * 100 }
	return pressure{cpuSome: pct(s.CPUSomeMs), memSome: pct(s.MemSomeMs), memFull: pct(s.MemFullMs), ioSome: pct(s.IOSomeMs)}
}

// gcStats is what this process's collector did: cycles, its
// stop-the-world pauses (the longest, as the runtime's histogram bounds
// it) and the CPU the goroutines spent assisting its marking.
type gcStats struct {
	cycles   float64
	pauses   []uint64 // the pause histogram's counts
	bounds   []float64
	maxPause time.Duration
	assist   time.Duration
}

// readGC reads the collector's totals from runtime/metrics.
func readGC() gcStats {
	m := []rtmetrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/sched/pauses/total/gc:seconds"},
		{Name: "/cpu/classes/gc/mark/assist:cpu-seconds"}}
	rtmetrics.Read(m)
	g := gcStats{cycles: float64(m[0].Value.Uint64())}
	if h := m[1].Value; h.Kind() == rtmetrics.KindFloat64Histogram {
		g.pauses, g.bounds = slices.Clone(h.Float64Histogram().Counts), h.Float64Histogram().Buckets
	}
	if a := m[2].Value; a.Kind() == rtmetrics.KindFloat64 {
		g.assist = time.Duration(a.Float64() * float64(time.Second))
	}
	return g
}

// since is what happened between g0 and g: the longest pause is the
// upper bound of the highest histogram bucket that gained a count.
func (g gcStats) since(g0 gcStats) gcStats {
	d := gcStats{cycles: g.cycles - g0.cycles, assist: g.assist - g0.assist}
	for i := len(g.pauses) - 1; i >= 0; i-- {
		if i < len(g0.pauses) && g.pauses[i] > g0.pauses[i] {
			if hi := g.bounds[i+1]; !math.IsInf(hi, 1) {
				d.maxPause = time.Duration(hi * float64(time.Second))
			} else {
				d.maxPause = time.Duration(g.bounds[i] * float64(time.Second))
			}
			break
		}
	}
	return d
}
