package measure

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
)

// BenchmarkRedisMemory reports the CPU one RedisMemory call costs Redis
// and the caller (core-seconds per call, from /proc) on a Redis with as
// many keys as `make bench` holds when it measures, after its surge:
// 43,008 roll shards, 65,536 receipt buckets (a few fields each: the calls
// per key, not the fields, set the cost) and 10 intake logs. The suite
// called it while the batcher drained (until run 66), taking what it cost
// from the ledger side's cores in the drain it timed; now it reads the
// queue then (ReadRedisQueue) and the breakdown after the drain.
//
//	go test -run '^$' -bench RedisMemory -benchtime 3x ./bench/measure/
func BenchmarkRedisMemory(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	states := []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}
	fill := func(n int, key func(i int) string) {
		pipe := rdb.Pipeline()
		for i := range n {
			pipe.HSet(ctx, key(i), "a", "1", "b", "2", "c", "3")
			if pipe.Len() >= 5000 {
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	fill(43_008, func(i int) string { return fmt.Sprintf("roll:{%s}:%04x", states[i%len(states)], i) })
	fill(65_536, func(i int) string { return votequeue.ReceiptKey(fmt.Sprintf("%04x%028x", i, i)) })
	for _, s := range states {
		rdb.RPush(ctx, votequeue.LogKey(s), "e1", "e2", "e3")
	}
	pids := map[string]int{"client": os.Getpid(), "redis": srv.PID()}
	from := Take(pids)
	b.ResetTimer()
	for range b.N {
		if _, err := RedisMemory(ctx, rdb, states); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	to := Take(pids)
	for _, name := range []string{"client", "redis"} {
		b.ReportMetric((to.Procs[name].CPU-from.Procs[name].CPU).Seconds()/float64(b.N), name+"-core-s/op")
	}
}
