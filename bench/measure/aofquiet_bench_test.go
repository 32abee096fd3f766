package measure

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/aofrewrite"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// BenchmarkQuietRewrite runs the quiet-time rewrite policy
// (internal/aofrewrite with its defaults: DefaultPolicy read every
// DefaultInterval, as the batcher runs it) beside the intake: a
// redis-server with Votechain's settings holding a roll of AOFQUIET_VOTERS
// voters (500,000) and AOFQUIET_FILL_MB of filler (none), its AOF compacted,
// takes the gateway's intake script at AOFQUIET_RATE votes/s (4,000, open
// loop as in BenchmarkAOFRewriteStall) in phases: load 60 s, a lull of 30 s
// (shorter than the policy's window), load 30 s, quiet 90 s. It prints the
// policy's decision at each reading and reports the rewrites begun during
// the load phases (the policy's and Redis's own), the seconds from the
// last load's end to the policy's rewrite, the incremental MB it folded,
// and each load phase's 202 p99.
//
//	go test -run '^$' -bench QuietRewrite -benchtime 1x -timeout 30m ./bench/measure/
func BenchmarkQuietRewrite(b *testing.B) {
	voters, rate := benchenv.Int(b, "AOFQUIET_VOTERS", 500_000, 1), benchenv.Int(b, "AOFQUIET_RATE", 4000, 1)
	ctx := context.Background()
	srv := redistest.Start(b)
	f := newAOFFixture(ctx, b, srv, voters, benchenv.Int(b, "AOFQUIET_FILL_MB", 0, 1))
	admin := srv.Client()
	r := aofrewrite.New(srv.ClientAs(redisserver.UserAOF), aofrewrite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))

	type reading struct {
		at       time.Duration
		phase    string
		decision aofrewrite.Decision
		rewrites int64
	}
	var (
		mu       sync.Mutex
		phase    = "start"
		readings []reading
	)
	began := time.Now()
	pctx, stop := context.WithCancel(ctx)
	var poller sync.WaitGroup
	poller.Go(func() {
		t := time.NewTicker(aofrewrite.DefaultInterval)
		defer t.Stop()
		for {
			d := r.Poll(pctx)[srv.Addr]
			p, err := ReadRedisPersistence(pctx, admin)
			mu.Lock()
			if err == nil {
				readings = append(readings, reading{time.Since(began), phase, d, p.Rewrites})
			}
			mu.Unlock()
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
		}
	})
	setPhase := func(p string) { mu.Lock(); phase = p; mu.Unlock() }

	before, err := ReadRedisPersistence(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var p99s []float64
	var loadEnded time.Duration
	for _, ph := range []struct {
		name string
		load bool
		d    time.Duration
	}{{"load", true, 60 * time.Second}, {"lull", false, 30 * time.Second}, {"load", true, 30 * time.Second}, {"quiet", false, 90 * time.Second}} {
		setPhase(ph.name)
		if ph.load {
			res := stallWindow(ctx, b, srv, f, "quiet", float64(rate), ph.d)
			p99s = append(p99s, res.p99)
			loadEnded = time.Since(began)
			fmt.Printf("%5.0f s: load phase ended: %.0f votes/s accepted, 202 p99 %.0f ms\n", loadEnded.Seconds(), res.accepted, res.p99)
		} else {
			time.Sleep(ph.d)
		}
	}
	b.StopTimer()
	stop()
	poller.Wait()

	var loadRewrites, policyInLoad int64
	rewriteAt, folded := -1.0, 0.0
	last := before.Rewrites
	for _, rd := range readings {
		fmt.Printf("%5.0f s %-5s %v\n", rd.at.Seconds(), rd.phase, rd.decision)
		if rd.phase == "load" {
			loadRewrites += rd.rewrites - last
			if rd.decision.Rewrite {
				policyInLoad++
			}
		}
		if rd.decision.Rewrite && rd.phase == "quiet" && rewriteAt < 0 {
			rewriteAt, folded = (rd.at - loadEnded).Seconds(), float64(rd.decision.Growth)/(1<<20)
		}
		last = rd.rewrites
	}
	b.ReportMetric(float64(loadRewrites), "rewrites-in-load")
	b.ReportMetric(float64(policyInLoad), "policy-rewrites-in-load")
	b.ReportMetric(rewriteAt, "quiet-to-rewrite-s")
	b.ReportMetric(folded, "folded-MB")
	for i, p := range p99s {
		b.ReportMetric(p, fmt.Sprintf("load%d-p99-ms", i+1))
	}
}
