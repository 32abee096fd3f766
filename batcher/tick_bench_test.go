package batcher

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// BenchmarkTicksUnderCommitLatency offers TICK_RATE votes/s (default
// 5,000, `make bench`'s sustained phase) over ten states for 6 s to a
// batcher with the default settings, against the fake ledger committing
// every transaction TICK_LATENCY_MS after its submission (default 1,400,
// the phase's commit latency in run 8), and reports the votes per batch
// (ten lanes cutting on every 200 ms tick: rate/50) and the mean time a
// vote waits in its lane (buffer: the tick, or a free slot) and from its
// 202 to its acknowledgement.
//
//	go test -run '^$' -bench TicksUnderCommitLatency -benchtime 1x ./batcher/
func BenchmarkTicksUnderCommitLatency(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	rate, latency := benchenv.Int(b, "TICK_RATE", 5000, 1), benchenv.Int(b, "TICK_LATENCY_MS", 1400, 1)
	states := []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}
	weights := make([]float64, len(states))
	for i := range weights {
		weights[i] = 1 / float64(len(weights))
	}
	first := 0
	pids := map[string]int{"process": os.Getpid(), "redis": srv.PID()}
	for i := range 2 * b.N {
		eager := i%2 == 1
		f := newFakeLedger()
		f.latency = time.Duration(latency) * time.Millisecond
		reg := prometheus.NewRegistry()
		bt, err := New(Config{Partitions: states, LeaseTTL: time.Second}, srv.ClientAs(redisserver.UserBatcher), f, nil, reg)
		if err != nil {
			b.Fatal(err)
		}
		bt.cut.eager = eager
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		reads0 := xreadCalls(b, srv.Client())
		from := measure.Take(pids)
		go func() { done <- bt.Run(ctx) }()
		n := rate * 6
		tick := time.NewTicker(10 * time.Millisecond)
		began := time.Now()
		for sent := 0; sent < n; {
			<-tick.C
			due := min(n, int(time.Since(began).Seconds()*float64(rate)))
			EnqueueWeighted(b, rdb, first+sent, due-sent, "tick", states, weights)
			sent = due
		}
		tick.Stop()
		first += n
		WaitStatesDrained(b, rdb, states, time.Minute)
		to := measure.Take(pids)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		name := "paced-"
		if eager {
			name = "eager-"
		}
		cpu := func(p string) float64 { return (to.Procs[p].CPU - from.Procs[p].CPU).Seconds() / float64(n) * 1e6 }
		b.ReportMetric(float64(n)/CommittedBatches(b, reg), name+"votes/batch")
		b.ReportMetric(float64(n)/(xreadCalls(b, srv.Client())-reads0), name+"votes/read")
		b.ReportMetric(cpu("process"), name+"process-cpu-us/vote")
		b.ReportMetric(cpu("redis"), name+"redis-cpu-us/vote")
		b.ReportMetric(meanMs(b, bt.metrics.stage.buffer), name+"buffer-mean-ms")
		b.ReportMetric(meanMs(b, bt.metrics.voteLatency), name+"vote-mean-ms")
	}
}

// xreadCalls is how many XREAD calls the server has answered.
func xreadCalls(b *testing.B, rdb redis.UniversalClient) float64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_xread:calls=")
	if !ok {
		return 0
	}
	calls, _, _ := strings.Cut(rest, ",")
	n, err := strconv.ParseFloat(calls, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// meanMs is the mean of a histogram's observations, in milliseconds.
func meanMs(b *testing.B, o prometheus.Observer) float64 {
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		b.Fatal(err)
	}
	h := m.GetHistogram()
	if h.GetSampleCount() == 0 {
		return 0
	}
	return h.GetSampleSum() / float64(h.GetSampleCount()) * 1000
}
