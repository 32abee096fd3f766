package dedup

import (
	"context"
	"crypto/sha256"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/benchenv"
)

// BenchmarkVoteLife measures what Redis spends on each vote over its whole
// life there, phase by phase: intake (Accept from 64 concurrent callers, so
// the script calls carry micro-batches as under load; VOTELIFE_CALLERS sets
// how many, and 1 shows a call's cost for a vote alone; VOTELIFE_STATES
// spreads the votes over that many states, default 1), then settling as the
// batcher does it for batches of lifeBatch votes (XREAD, the receipts,
// the acknowledgement). Per phase it reports Redis CPU per vote from /proc,
// the commands Redis ran per vote (INFO commandstats, a script's own
// commands included, the script call counted too), the time Redis spent in
// scripts (EVALSHA's usec in INFO commandstats, their commands included:
// the intake script, and Ack's when settling; wall time, so it grows on a
// loaded machine) and the AOF bytes
// written per vote.
//
// With VOTELIFE_RATE the intake is open-loop instead: votes arrive at that
// many a second, each Accept in its own goroutine, as requests reach a
// gateway, so the lanes batch them as they do at that rate in production
// (lingering included); it reports the votes a script call carried and
// Accept's latency (p50, p99). VOTELIFE_LINGER_MS and VOTELIFE_GROUP set
// Config.Linger and Config.GroupBatch. The roll is laid out as roll load
// lays it out for the votes of each state, or with at most
// VOTELIFE_ROLL_PER_SHARD nullifiers a shard; VOTELIFE_ROLL_EXTRA adds that
// many voters who do not vote to the roll, spread over the states (a roll
// larger than the CPU's caches, as an election's is), and roll-B/entry is
// Redis's memory per roll entry once loaded.
//
//	go test -run '^$' -bench VoteLife -benchtime 20000x ./gateway/dedup/
//	VOTELIFE_RATE=5000 VOTELIFE_STATES=10 go test -run '^$' -bench VoteLife -benchtime 20000x ./gateway/dedup/
func BenchmarkVoteLife(b *testing.B) {
	var cfg Config
	if ms := benchenv.Int(b, "VOTELIFE_LINGER_MS", 0, 1); ms > 0 {
		cfg.Linger = time.Duration(ms) * time.Millisecond
	}
	cfg.GroupBatch = benchenv.Int(b, "VOTELIFE_GROUP", 0, 1)
	f := newFixture(b, cfg)
	ctx := context.Background()
	callers, nStates := benchenv.Int(b, "VOTELIFE_CALLERS", 64, 1), benchenv.Int(b, "VOTELIFE_STATES", 1, 1)
	rate := benchenv.Int(b, "VOTELIFE_RATE", 0, 1)
	states := drainStates[:min(nStates, len(drainStates))]
	raws := make([][]byte, b.N)
	for i := range raws {
		sum := sha256.Sum256([]byte("life-" + strconv.Itoa(i)))
		raws[i] = sum[:]
	}
	attempts := make([]Attempt, b.N)
	roll := map[string][][]byte{}
	for i := range attempts {
		st := states[i%len(states)]
		roll[st] = append(roll[st], raws[i])
		attempts[i] = attempt(b, st, ballot.HashHex([32]byte(raws[i])))
	}
	// Voters on the roll who do not vote: a roll as large as an election's
	// is far larger than the CPU's caches, as its shards are in production.
	extra := benchenv.Int(b, "VOTELIFE_ROLL_EXTRA", 0, 0)
	for i := range extra {
		st := states[i%len(states)]
		sum := sha256.Sum256([]byte("abstains-" + strconv.Itoa(i)))
		roll[st] = append(roll[st], sum[:])
	}
	perShard := benchenv.Int(b, "VOTELIFE_ROLL_PER_SHARD", 0, 1)
	mem0 := usedMemory(b, f.rdb)
	for st, raws := range roll {
		// The roll laid out as roll load does (votequeue.RollBits), or
		// with at most VOTELIFE_ROLL_PER_SHARD nullifiers a shard.
		bits := votequeue.RollBits(uint64(len(raws)))
		if perShard > 0 {
			for bits = 0; bits < votequeue.MaxRollBits && len(raws)>>bits > perShard; bits++ {
			}
		}
		if _, err := votequeue.EnsureRoll(ctx, f.rdb, st, bits); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(raws); i += 10_000 {
			f.enroll(b, st, raws[i:min(i+10_000, len(raws))]...)
		}
	}
	rollBytes := float64(usedMemory(b, f.rdb)-mem0) / float64(b.N+extra)
	for _, st := range states {
		if _, err := f.d.Params(ctx, st); err != nil {
			b.Fatal(err)
		}
		if err := f.rdb.Set(ctx, "lease:{"+st+"}", "me", 0).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer() // which forgets metrics reported before it
	b.ReportMetric(rollBytes, "roll-B/entry")
	if rate > 0 {
		lifePhase(b, f, "intake", func() { openLoop(b, f, attempts, rate) })
	} else {
		lifePhase(b, f, "intake", func() { closedLoop(b, f, attempts, callers) })
	}
	lifePhase(b, f, "settle", func() {
		for _, st := range states {
			settle(b, f, st)
		}
	})
	if n, err := votequeue.CountReceipts(ctx, f.rdb); err != nil || n != int64(b.N) {
		b.Fatalf("%d receipts, %v; want %d", n, err, b.N)
	}
}

// closedLoop accepts attempts from callers goroutines, each sending its
// next vote once the previous one is answered.
func closedLoop(b *testing.B, f *fixture, attempts []Attempt, callers int) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(attempts)); i = next.Add(1) - 1 {
				if res, err := f.d.Accept(ctx, attempts[i]); err != nil || res.Outcome != Accepted {
					b.Errorf("vote %d: %+v, %v", i, res, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// openLoop offers attempts at rate a second, each in its own goroutine
// whatever the answers of the earlier ones, and reports the votes per
// script call and Accept's latency.
func openLoop(b *testing.B, f *fixture, attempts []Attempt, rate int) {
	ctx := context.Background()
	calls := func() int64 {
		info, err := f.rdb.Info(ctx, "commandstats").Result()
		if err != nil {
			b.Fatal(err)
		}
		_, rest, _ := strings.Cut(info, "cmdstat_evalsha:calls=")
		n, _ := strconv.ParseInt(rest[:max(strings.IndexByte(rest, ','), 0)], 10, 64)
		return n
	}
	c0 := calls()
	lat := make([]time.Duration, len(attempts))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range attempts {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			t := time.Now()
			if res, err := f.d.Accept(ctx, attempts[i]); err != nil || res.Outcome != Accepted {
				b.Errorf("vote %d: %+v, %v", i, res, err)
			}
			lat[i] = time.Since(t)
		})
	}
	wg.Wait()
	if n := calls() - c0; n > 0 {
		b.ReportMetric(float64(len(attempts))/float64(n), "votes/call")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// drainStates are the states of `make bench`'s election.
var drainStates = []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}

// settle drains a state's queue as the batcher does: batches of lifeBatch
// votes read, their receipts written, acknowledged.
func settle(b *testing.B, f *fixture, st string) {
	ctx := context.Background()
	fence := votequeue.Fence{LeaseKey: "lease:{" + st + "}", Lease: "me", JournalKey: "journal:{" + st + "}"}
	after := "0-0"
	for seq := uint64(1); ; seq++ {
		streams, err := f.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{votequeue.StreamKey(st), after}, Count: lifeBatch, Block: -1}).Result()
		if err == redis.Nil || (err == nil && len(streams[0].Messages) == 0) {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		msgs := streams[0].Messages
		batch := ballot.Batch{State: st, Seq: seq, Votes: make([]ballot.Vote, len(msgs))}
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			if batch.Votes[i], err = votequeue.Decode(m.Values); err != nil {
				b.Fatal(err)
			}
			ids[i] = m.ID
		}
		after = ids[len(ids)-1]
		rec := ballot.BatchRecord{State: st, Seq: seq, Votes: len(msgs), Counted: len(msgs), TxID: "tx" + strconv.FormatUint(seq, 10)}
		if err := votequeue.WriteReceipts(ctx, f.rdb, batch, rec, seq); err != nil {
			b.Fatal(err)
		}
		fence.JournalField = strconv.FormatUint(seq, 10)
		if err := votequeue.Ack(ctx, f.rdb, st, fence, "", ids); err != nil {
			b.Fatal(err)
		}
	}
}

// lifeBatch is BenchmarkVoteLife's batch size (the bench's batches while
// a backlog drains hold hundreds of votes).
const lifeBatch = 500

// lifePhase runs one phase of BenchmarkVoteLife and reports its costs per
// vote under the phase's name.
func lifePhase(b *testing.B, f *fixture, name string, run func()) {
	ctx := context.Background()
	stats := func() (cmds, aof, script int64, cpu time.Duration) {
		u, err := measure.ReadProc(f.srv.PID())
		if err != nil {
			b.Fatal(err)
		}
		info, err := f.rdb.Info(ctx, "commandstats", "persistence").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok && !strings.HasPrefix(rest, "info:") {
				_, calls, _ := strings.Cut(rest, "calls=")
				n, _ := strconv.ParseInt(calls[:strings.IndexByte(calls, ',')], 10, 64)
				cmds += n
				if strings.HasPrefix(rest, "evalsha:") {
					_, usec, _ := strings.Cut(rest, "usec=")
					script, _ = strconv.ParseInt(usec[:strings.IndexByte(usec, ',')], 10, 64)
				}
			}
			if rest, ok := strings.CutPrefix(line, "aof_current_size:"); ok {
				aof, _ = strconv.ParseInt(rest, 10, 64)
			}
		}
		return cmds, aof, script, u.CPU
	}
	c0, a0, s0, cpu0 := stats()
	run()
	c1, a1, s1, cpu1 := stats()
	n := float64(b.N)
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/n, name+"-redis-µs/vote")
	b.ReportMetric(float64(c1-c0)/n, name+"-cmds/vote")
	if s1 > s0 {
		b.ReportMetric(float64(s1-s0)/n, name+"-script-µs/vote")
	}
	b.ReportMetric(float64(a1-a0)/n, name+"-aof-B/vote")
}

// usedMemory is Redis's used_memory (INFO memory).
func usedMemory(b *testing.B, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	_, rest, _ := strings.Cut(info, "used_memory:")
	n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, '\r')], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
