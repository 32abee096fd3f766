package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/gateway/results"
	"github.com/votechain/votechain/internal/benchenv"
)

// readsServerEnv makes this test binary a results server (see TestMain):
// "gateway" serves the API over a loaded results cache as cmd/gateway
// does (release mode, GC at 400, its metrics registry), "bare" serves the
// gateway's GET /api/v1/results bytes with bench/loadgen's bare handler.
// It prints its address and serves until its standard input closes; with
// readsProfileEnv set it writes a CPU profile of that time there.
const (
	readsServerEnv  = "VOTECHAIN_READS_SERVER"
	readsProfileEnv = "VOTECHAIN_READS_CPUPROFILE"
)

// readsOtherEnv names another build of this test binary (say, of the
// commit before a change): BenchmarkResultsReads then measures its gateway
// too, in the same rounds. readsRoundsEnv and readsDurEnv set the rounds
// (default 3) and each run's length (default 5s, as `make bench`).
const (
	readsOtherEnv  = "VOTECHAIN_READS_OTHER"
	readsRoundsEnv = "VOTECHAIN_READS_ROUNDS"
	readsDurEnv    = "VOTECHAIN_READS_DURATION"
)

// readsElection is `make bench`'s election shape: its ten states and one
// contest, so GET /api/v1/results is about as long as in the bench (1486
// bytes there).
func readsElection() *ballot.Election {
	e := testElection()
	e.States = loopbackStates
	e.Contests = []ballot.Contest{{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob", "carol"}}}
	return e
}

// readsResults is results.Cache over readsElection with votes in every state.
func readsResults(ctx context.Context, dir string) (*results.Cache, error) {
	e := readsElection()
	r := ballot.Results{ElectionID: e.ID, Status: ballot.StatusConfigured, National: ballot.Tally{}, States: map[string]ballot.StateResult{}}
	for i, s := range e.States {
		t := ballot.Tally{}
		for j, choice := range e.Contests[0].Choices {
			n := uint64(10_000*(i+1) + 1_000*j)
			t.Add("president", choice, n)
			r.National.Add("president", choice, n)
			r.Counted += n
		}
		r.States[s] = ballot.StateResult{State: s, Batches: 100 * (i + 1), Counted: t["president"].Total(), Tallies: t}
	}
	c := results.New(staticLedger{r}, dir+"/results.json", e.States, e.Contests, nil)
	go c.Run(ctx)
	for !c.Ready() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return c, nil
}

// readsGateway is the API as cmd/gateway wires it for reads: a registry
// with the Go and process collectors and the results cache, logs at info.
func readsGateway(ctx context.Context, dir string) (*Server, error) {
	cache, err := readsResults(ctx, dir)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), cache)
	e := readsElection()
	return New(Config{Secret: testSecret}, Deps{
		Elections: &staticElections{e: e}, Ledger: &staticElections{e: e},
		Intake: instantIntake{}, Results: cache, Receipts: fakeReceipts{},
		Registry: reg, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
}

// runReadsServer is the readsServerEnv mode.
func runReadsServer(kind string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "reads-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	gin.SetMode(gin.ReleaseMode) // as cmd/gateway runs
	debug.SetGCPercent(400)
	api, err := readsGateway(ctx, dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if f := os.Getenv(readsProfileEnv); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	serve := make(chan error, 1)
	switch kind {
	case "gateway":
		hs := api.HTTPServer("")
		go func() { serve <- hs.Serve(ln) }()
		defer hs.Close()
	case "bare":
		snap, err := capturedResults(api.Handler())
		if err != nil {
			return err
		}
		go func() { serve <- loadgen.ServeBare(ctx, ln, snap) }()
	default:
		return fmt.Errorf("%s=%q: want gateway or bare", readsServerEnv, kind)
	}
	fmt.Println(ln.Addr().String())
	stdin := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stdin) }()
	select {
	case <-stdin:
		return nil
	case err := <-serve:
		return err
	}
}

// capturedResults is the gateway's GET /api/v1/results answer as the
// bench captures it for the bare handler.
func capturedResults(h http.Handler) (loadgen.ReadSnapshot, error) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/results", nil))
	if w.Code != http.StatusOK {
		return loadgen.ReadSnapshot{}, fmt.Errorf("GET /api/v1/results: %d %s", w.Code, w.Body)
	}
	return loadgen.ReadSnapshot{Body: w.Body.Bytes(), ContentType: w.Header().Get("Content-Type"), ETag: w.Header().Get("ETag")}, nil
}

// readsSide is one server process of BenchmarkResultsReads.
type readsSide struct {
	name  string
	cmd   *exec.Cmd
	stdin io.Closer
	url   string
	qps   []float64
	cpuUS []float64 // the server's CPU per answered request, µs
}

func startReadsSide(b *testing.B, name, exe, kind string) *readsSide {
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), readsServerEnv+"="+kind)
	if p := os.Getenv(readsProfileEnv); p != "" {
		cmd.Env = append(cmd.Env, readsProfileEnv+"="+p+"."+name)
	} else {
		cmd.Env = append(cmd.Env, readsProfileEnv+"=")
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &readsSide{name: name, cmd: cmd, stdin: stdin}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("%s server: %v", name, err)
	}
	s.url = "http://" + strings.TrimSpace(addr) + "/api/v1/results"
	return s
}

// BenchmarkResultsReads is `make bench`'s results-reads comparison alone:
// the gateway's GET /api/v1/results (served from the results cache, as
// cmd/gateway wires the API) against bench/loadgen's bare net/http handler
// serving the same bytes and headers, each a separate process, hammered
// by bench/loadgen.HammerReads (32 workers, persistent connections) from
// this one, alternating, several rounds. It reports each side's median
// QPS, the median of the rounds' gateway ÷ bare ratios, and each server's
// CPU per answered request (from /proc). With readsOtherEnv it measures
// another build's gateway in the same rounds (old-* metrics). Run it with
// -benchtime 1x: the rounds, not b.N, set its length.
func BenchmarkResultsReads(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	rounds := benchenv.Int(b, readsRoundsEnv, 3, 0)
	if rounds < 1 {
		b.Fatalf("%s=%d: want at least one round", readsRoundsEnv, rounds)
	}
	dur := 5 * time.Second
	if v := os.Getenv(readsDurEnv); v != "" {
		if dur, err = time.ParseDuration(v); err != nil {
			b.Fatalf("%s: %v", readsDurEnv, err)
		}
	}
	sides := []*readsSide{startReadsSide(b, "gw", exe, "gateway")}
	if other := os.Getenv(readsOtherEnv); other != "" {
		sides = append(sides, startReadsSide(b, "old", other, "gateway"))
	}
	bare := startReadsSide(b, "bare", exe, "bare")
	sides = append(sides, bare)
	ctx := context.Background()
	snap, err := loadgen.CaptureRead(ctx, sides[0].url)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("GET /api/v1/results: %d bytes", len(snap.Body))
	b.ResetTimer()
	for round := range rounds {
		for i := range sides { // rotated each round: no side always runs first
			s := sides[(i+round)%len(sides)]
			cpu0 := cpuOf(b, s.cmd.Process.Pid)
			res := loadgen.HammerReads(ctx, s.url, 32, dur)
			cpu := cpuOf(b, s.cmd.Process.Pid) - cpu0
			if res.Failed > 0 || res.OK == 0 {
				b.Fatalf("%s: %d answers not 200 (%d were)", s.name, res.Failed, res.OK)
			}
			s.qps = append(s.qps, res.QPS)
			s.cpuUS = append(s.cpuUS, float64(cpu.Microseconds())/float64(res.OK))
			fmt.Fprintf(os.Stderr, "round %d %-4s %8.0f QPS %6.2f µs/req p99 %.2f ms\n", round+1, s.name, res.QPS, s.cpuUS[len(s.cpuUS)-1], res.P99ms)
		}
	}
	b.StopTimer()
	for _, s := range sides {
		b.ReportMetric(median(s.qps), s.name+"-qps")
		b.ReportMetric(median(s.cpuUS), s.name+"-µs/req")
		if s != bare {
			ratios := make([]float64, rounds)
			for i := range ratios {
				ratios[i] = s.qps[i] / bare.qps[i]
			}
			b.ReportMetric(median(ratios), s.name+"/bare")
		}
	}
}

// median of xs.
func median(xs []float64) float64 {
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// BenchmarkResultsHandler is the handler side of BenchmarkResultsReads in
// process, without sockets: the API's GET /api/v1/results (gin, the
// middlewares, the handler) and bench/loadgen's bare handler, each writing
// to a fresh header map per request as net/http does; the difference is
// what the gateway adds per request.
func BenchmarkResultsHandler(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api, err := readsGateway(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	snap, err := capturedResults(api.Handler())
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"bare", loadgen.BareHandler(snap)}, {"gateway", api.Handler()}} {
		b.Run(h.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/results", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{}
				for pb.Next() {
					w.h = http.Header{}
					h.h.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		})
	}
}

// discardWriter is an http.ResponseWriter that keeps the status only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header  { return w.h }
func (w *discardWriter) WriteHeader(code int) { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
