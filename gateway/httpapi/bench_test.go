package httpapi

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/bench/measure"
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
		g := gin.New()
		g.POST("/api/v1/vote", func(c *gin.Context) {
			c.JSON(http.StatusAccepted, voteAccepted{VoteID: "0", Status: "pending", ReceiptURL: "/api/v1/votes/0"})
		})
		runVotes(b, g, func(int) {}, benchVote)
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
// it a load client instead of running tests (see TestMain): "url n conc"
// posts n distinct votes (voters benchVoter(0..n-1)) with conc keep-alive
// connections and exits 0 only if every one was accepted.
const loopbackClientEnv = "VOTECHAIN_LOOPBACK_CLIENT"

// BenchmarkVoteLoopback serves the whole handler on a loopback TCP listener
// and drives it from a separate client process (this test binary re-run as
// a client), so the CPU this process and redis-server use is the intake's
// alone: it reports gateway and Redis CPU per accepted vote from /proc
// (B/op and allocs/op with -benchmem are the gateway's per request),
// with the intake log off and on (its signer following the log and signing
// a head every second, as in production) in the same run.
func BenchmarkVoteLoopback(b *testing.B) {
	key, _ := testLogKey()
	for _, c := range []struct {
		name string
		key  ed25519.PrivateKey
	}{{"log-off", nil}, {"log-on", key}} {
		b.Run(c.name, func(b *testing.B) {
			f := newFixture(b, fixtureOpts{cfg: Config{MaxQueueDepth: -1}, logKey: c.key, logInterval: time.Second})
			loopback(b, f)
		})
	}
}

func loopback(b *testing.B, f *fixture) {
	f.enrollMany("CA", "c", b.N, benchVoter)
	ts := httptest.NewUnstartedServer(f.srv.Handler())
	ts.Config = f.srv.HTTPServer("") // the gateway's own server settings
	ts.Start()
	defer ts.Close()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	client := exec.Command(exe, "-test.run=^$")
	conns := benchParallelism
	if v := os.Getenv(loopbackConnsEnv); v != "" {
		if conns, err = strconv.Atoi(v); err != nil || conns < 1 {
			b.Fatalf("%s=%q: want a positive number of connections", loopbackConnsEnv, v)
		}
	}
	client.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", loopbackClientEnv, ts.URL, b.N, conns))
	client.Stdout, client.Stderr = os.Stdout, os.Stderr
	calls0 := scriptCalls(b, f)
	gw0, rd0 := cpuOf(b, os.Getpid()), cpuOf(b, f.redis.PID())
	b.ResetTimer()
	if err := client.Run(); err != nil {
		b.Fatalf("load client: %v", err)
	}
	b.StopTimer()
	gw, rd := cpuOf(b, os.Getpid())-gw0, cpuOf(b, f.redis.PID())-rd0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
	b.ReportMetric(float64(gw.Microseconds())/float64(b.N), "gw-µs/vote")
	b.ReportMetric(float64(rd.Microseconds())/float64(b.N), "redis-µs/vote")
	if calls := scriptCalls(b, f) - calls0; calls > 0 {
		b.ReportMetric(float64(b.N)/float64(calls), "votes/call")
	}
}

// loopbackConnsEnv sets BenchmarkVoteLoopback's client connections
// (default benchParallelism).
const loopbackConnsEnv = "VOTECHAIN_LOOPBACK_CONNS"

// scriptCalls is how many EVALSHA calls Redis has served.
func scriptCalls(b *testing.B, f *fixture) int64 {
	info, err := f.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_evalsha:calls=")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
	return n
}

func cpuOf(b *testing.B, pid int) time.Duration {
	u, err := measure.ReadProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	return u.CPU
}

// runLoopbackClient is the client side of BenchmarkVoteLoopback.
func runLoopbackClient(spec string) error {
	var url string
	var n, conc int
	if _, err := fmt.Sscan(spec, &url, &n, &conc); err != nil {
		return fmt.Errorf("%s=%q: %w", loopbackClientEnv, spec, err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: time.Minute}
	var next atomic.Int64
	var g errgroup.Group
	for range conc {
		g.Go(func() error {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				resp, err := hc.Post(url+"/api/v1/vote", "application/json", strings.NewReader(voteBody(benchVoter(i), "c", "CA", "alice")))
				if err != nil {
					return err
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					return fmt.Errorf("vote %d: %d %s", i, resp.StatusCode, body)
				}
			}
			return nil
		})
	}
	return g.Wait()
}
