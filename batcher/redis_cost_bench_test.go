package batcher

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/internal/redistest"
)

// BenchmarkDrainRedisCost drains a backlog of DRAIN_REDIS_VOTES votes
// (default 20,000, in the gateway's compact form, spread over ten states
// by weight as in `make bench`) through a real redis-server (appendfsync
// always, as in production) and the fake ledger committing after a block
// time, and reports what the drain costs per vote: Redis's own time in
// commands (INFO commandstats usec) and calls, the bytes it appends to its
// AOF, and the CPU of redis-server and of this process (the batcher, plus
// the fake ledger) from /proc. -v logs the commands one by one.
//
//	go test -run '^$' -bench DrainRedisCost -benchtime 3x ./batcher/
func BenchmarkDrainRedisCost(b *testing.B) {
	votes := benchenv.Int(b, "DRAIN_REDIS_VOTES", 20000, 1)
	states := []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}
	weights := []float64{39, 30, 22, 20, 13, 12.6, 11.8, 11, 10.8, 10}
	var total float64
	for _, w := range weights {
		total += w
	}
	var usec, calls, aof, redisCPU, selfCPU float64
	perCmd := map[string][2]float64{} // calls, usec
	aofBy := map[string]float64{}     // AOF bytes by command
	for range b.N {
		b.StopTimer()
		srv := redistest.Start(b)
		rdb := srv.Client()
		enqueueCompact(b, rdb, votes, states, weights, total)
		f := newFakeLedger()
		f.latency = 100 * time.Millisecond
		bt, err := New(Config{Partitions: states}, rdb, f, nil, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		aof0 := aofSize(b, rdb)
		aofFile, aofOff := incrAOF(b, srv.Dir)
		pids := map[string]int{"redis": srv.PID(), "self": os.Getpid()}
		from := measure.Take(pids)
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- bt.Run(ctx) }()
		WaitStatesDrained(b, rdb, states, 5*time.Minute)
		b.StopTimer()
		to := measure.Take(pids)
		stats := commandStats(b, rdb)
		aof += float64(aofSize(b, rdb) - aof0)
		for name, n := range aofBytesByCommand(b, aofFile, aofOff) {
			aofBy[name] += n
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		redisCPU += (to.Procs["redis"].CPU - from.Procs["redis"].CPU).Seconds()
		selfCPU += (to.Procs["self"].CPU - from.Procs["self"].CPU).Seconds()
		for name, s := range stats {
			if name == "config" || name == "info" || name == "xlen" {
				continue // the benchmark's own
			}
			calls += s[0]
			usec += s[1]
			c := perCmd[name]
			perCmd[name] = [2]float64{c[0] + s[0], c[1] + s[1]}
		}
	}
	n := float64(votes * b.N)
	b.ReportMetric(usec/n, "redis-usec/vote")
	b.ReportMetric(calls/n, "redis-calls/vote")
	b.ReportMetric(aof/n, "aof-bytes/vote")
	b.ReportMetric(redisCPU/n*1000, "redis-core-s/kvote")
	b.ReportMetric(selfCPU/n*1000, "batcher-core-s/kvote")
	b.ReportMetric((redisCPU+selfCPU)/n*1000, "both-core-s/kvote")
	names := make([]string, 0, len(perCmd))
	for name := range perCmd {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return perCmd[names[i]][1] > perCmd[names[j]][1] })
	for _, name := range names {
		c := perCmd[name]
		b.Logf("%-12s %8.4f calls/vote %8.3f usec/vote", name, c[0]/n, c[1]/n)
	}
	for name, bytes := range aofBy {
		b.Logf("AOF %-12s %8.1f bytes/vote", name, bytes/n)
	}
}

// incrAOF is the path and size of the AOF file Redis appends to now.
func incrAOF(b *testing.B, dir string) (string, int64) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "*.incr.aof"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no incremental AOF under %s (%v)", dir, err)
	}
	sort.Strings(paths)
	p := paths[len(paths)-1]
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return p, st.Size()
}

// aofBytesByCommand tallies the bytes of the AOF file from off on by the
// command each record holds (RESP arrays of bulk strings).
func aofBytesByCommand(b *testing.B, path string, off int64) map[string]float64 {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	data = data[off:]
	out := map[string]float64{}
	for len(data) > 0 {
		start := len(data)
		line := func() string {
			i := bytes.Index(data, []byte("\r\n"))
			l := string(data[:i])
			data = data[i+2:]
			return l
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(line(), "*"))
		var name string
		for k := range n {
			size, _ := strconv.Atoi(strings.TrimPrefix(line(), "$"))
			if k == 0 {
				name = strings.ToLower(string(data[:size]))
			}
			data = data[size+2:]
		}
		out[name] += float64(start - len(data))
	}
	return out
}

// enqueueCompact queues votes as the gateway does (compact entries), each
// in a state drawn by weight from a low-discrepancy sequence.
func enqueueCompact(b *testing.B, rdb *redis.Client, votes int, states []string, weights []float64, total float64) {
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := range votes {
		x := math.Mod(float64(i)*0.6180339887498949, 1) * total
		state := states[len(states)-1]
		for s, w := range weights {
			if x -= w; x < 0 {
				state = states[s]
				break
			}
		}
		id, err := ballot.NewVoteID()
		if err != nil {
			b.Fatal(err)
		}
		null := ballot.NullifierOf(ballot.VoterKey([]byte("cost"), "batcher-bench", fmt.Sprint("voter-", i), "cred"), TestContest)
		v := ballot.Vote{ID: id, State: state, Contest: TestContest, Nullifier: ballot.HashHex(null),
			Choice: TestCandidates[i%len(TestCandidates)], CastAt: time.Now().UnixMilli()}
		e, err := votequeue.Entry(v)
		if err != nil {
			b.Fatal(err)
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: votequeue.StreamKey(state), Values: e})
		if pipe.Len() == 1000 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

// aofSize is the size of Redis's append-only file (INFO persistence).
func aofSize(b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "persistence").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "aof_current_size:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no aof_current_size in INFO persistence: is appendonly on?")
	return 0
}

// commandStats is INFO commandstats: command -> calls, usec.
func commandStats(b *testing.B, rdb *redis.Client) map[string][2]float64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string][2]float64{}
	for _, line := range strings.Split(info, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, _ := strings.Cut(rest, ":")
		var c, u float64
		for _, kv := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				c, _ = strconv.ParseFloat(v, 64)
			case "usec":
				u, _ = strconv.ParseFloat(v, 64)
			}
		}
		out[name] = [2]float64{c, u}
	}
	return out
}
