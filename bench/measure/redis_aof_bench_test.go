package measure

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// BenchmarkAOFRewriteStall tests whether AOF rewrites and other disk
// writers stall Votechain's Redis: a redis-server with Votechain's
// settings (redisserver.Args) holding a roll of AOFSTALL_VOTERS voters
// over 10 states (3,000,000 by default, 117 MB) and AOFSTALL_FILL_MB of
// filler hashes (350 by default: `make bench` grows Redis to about 500 MB),
// its AOF compacted once, takes the gateway's intake script
// (dedup.Accept from 256 callers, paced open loop at AOFSTALL_RATE votes/s,
// at most 1,024 waiting, as the bench's load generator; with AOFSTALL_CLOSED
// set, closed loop: as fast as the callers go) for windows of
// AOFSTALL_WINDOW_S seconds under four conditions in turn, AOFSTALL_ROUNDS
// rounds: quiet; a BGREWRITEAOF 1 s into the window; a disk writer
// imitating the ledger side (two writers of 256 KiB blocks, each
// fdatasync'd, on the same disk); both. AOFSTALL_CONDITIONS picks some
// (comma-separated), or adds rewrite-raw: the rewrite with rdbcompression
// off (the base file's strings not LZF-compressed). AOFSTALL_CONFIG ("key value"
// pairs, space-separated) is applied with CONFIG SET first. Per condition
// it reports the medians of: votes/s accepted, the accept latency p50 and
// p99 (from each vote's scheduled time), the seconds with an
// aof-fsync-always spike ≥ 1 ms and the worst, the fork's pause, and
// Redis's own CPU per vote (its rewrite children's apart).
//
//	go test -run '^$' -bench AOFRewriteStall -benchtime 1x -timeout 60m ./bench/measure/
func BenchmarkAOFRewriteStall(b *testing.B) {
	voters, rate := benchenv.Int(b, "AOFSTALL_VOTERS", 3_000_000, 1), benchenv.Int(b, "AOFSTALL_RATE", 4000, 1)
	if os.Getenv("AOFSTALL_CLOSED") != "" {
		rate = 0
	}
	window := time.Duration(benchenv.Int(b, "AOFSTALL_WINDOW_S", 10, 1)) * time.Second
	rounds := benchenv.Int(b, "AOFSTALL_ROUNDS", 3, 1)
	ctx := context.Background()
	srv := redistest.Start(b)
	if cfg := os.Getenv("AOFSTALL_CONFIG"); cfg != "" {
		if err := stallConfig(ctx, srv, cfg); err != nil {
			b.Fatal(err)
		}
	}
	f := newAOFFixture(ctx, b, srv, voters, benchenv.Int(b, "AOFSTALL_FILL_MB", 350, 1))
	conditions := []string{"quiet", "rewrite", "disk", "rewrite+disk"}
	if c := os.Getenv("AOFSTALL_CONDITIONS"); c != "" {
		conditions = strings.Split(c, ",")
	}
	results := map[string][]stallResult{}
	b.ResetTimer()
	for round := range rounds {
		for _, c := range conditions {
			r := stallWindow(ctx, b, srv, f, c, float64(rate), window)
			results[c] = append(results[c], r)
			fmt.Printf("round %d %-12s accepted %6.0f/s  p50 %6.1f ms  p99 %7.1f ms  max %7.1f ms  fsync≥1ms %2d s, worst %4d ms  aof-write worst %4d ms  fork %5.1f ms  Redis %5.1f µs/vote (children %.2f s)  rewrite %d s, base %.0f MB  disk writer %4.0f MB/s\n",
				round+1, c, r.accepted, r.p50, r.p99, r.max, r.fsyncSeconds, r.fsyncMax, r.writeMax, r.forkMS, r.mainUS, r.childS, r.rewriteS, float64(r.baseBytes)/(1<<20), r.diskMBs) // a line per window (b.Logf would cut them)
		}
	}
	b.StopTimer()
	for _, c := range conditions {
		rs := results[c]
		med := func(f func(stallResult) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		b.ReportMetric(med(func(r stallResult) float64 { return r.accepted }), c+"-votes/s")
		b.ReportMetric(med(func(r stallResult) float64 { return r.p50 }), c+"-p50-ms")
		b.ReportMetric(med(func(r stallResult) float64 { return r.p99 }), c+"-p99-ms")
		b.ReportMetric(med(func(r stallResult) float64 { return float64(r.fsyncSeconds) }), c+"-fsync-spike-s")
		b.ReportMetric(med(func(r stallResult) float64 { return float64(r.fsyncMax) }), c+"-fsync-max-ms")
		b.ReportMetric(med(func(r stallResult) float64 { return r.mainUS }), c+"-redis-µs/vote")
	}
}

// aofFixture is a redis-server with Votechain's settings holding a roll
// of voters over the bench's 10 states, its AOF compacted, and a deduper
// (the gateway's intake script path) casting their votes.
type aofFixture struct {
	d      *dedup.Deduper
	states []string
	raws   [][][]byte // per state, the voters' raw nullifiers
	next   atomic.Int64
}

func newAOFFixture(ctx context.Context, b *testing.B, srv *redistest.Server, voters, fillMB int) *aofFixture {
	rdb := srv.Client()
	f := &aofFixture{states: []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}}
	perState := voters / len(f.states)
	start := time.Now()
	f.raws = make([][][]byte, len(f.states))
	for si, st := range f.states {
		roll, err := votequeue.EnsureRoll(ctx, rdb, st, votequeue.RollBits(uint64(perState)))
		if err != nil {
			b.Fatal(err)
		}
		for i := range perState {
			sum := sha256.Sum256([]byte(st + strconv.Itoa(i)))
			f.raws[si] = append(f.raws[si], sum[:])
		}
		for i := 0; i < perState; i += 10_000 {
			pipe := rdb.Pipeline()
			votequeue.Enroll(ctx, pipe, roll, f.raws[si][i:min(i+10_000, perState)])
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Filler the size of what the bench's Redis holds beside the roll
	// (intake logs, receipts, streams): hashes of 100 fields of 64 bytes,
	// as random as hashes and ids (the AOF's RDB base compresses repeats).
	for i := 0; i < fillMB<<20/6400; i += 1000 {
		pipe := rdb.Pipeline()
		for j := i; j < min(i+1000, fillMB<<20/6400); j++ {
			fields := make([]any, 0, 200)
			for k := range 100 {
				sum := sha256.Sum256([]byte(strconv.Itoa(j*100 + k)))
				fields = append(fields, fmt.Sprintf("%016d", k), fmt.Sprintf("%x", sum[:24]))
			}
			pipe.HSet(ctx, "fill:"+strconv.Itoa(j), fields...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	f.d = dedup.New(srv.ClientAs(redisserver.UserGateway), noLedger{}, dedup.Config{ExpectedVoters: uint64(perState)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(f.d.Close)
	for _, st := range f.states {
		if _, err := f.d.Params(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
	rewrite(ctx, b, rdb)
	used, _ := RedisUsedMemory(ctx, rdb)
	p, _ := ReadRedisPersistence(ctx, rdb)
	b.Logf("%d voters loaded in %s: used_memory %d MB, AOF %d MB", voters, time.Since(start).Round(time.Second), used>>20, p.CurrentBytes>>20)
	return f
}

// left is how many voters have not voted yet.
func (f *aofFixture) left() int64 {
	return int64(len(f.raws[0])*len(f.states)) - f.next.Load()
}

// vote is the next voter's vote, the states in turn.
func (f *aofFixture) vote() dedup.Attempt {
	i := f.next.Add(1) - 1
	si := int(i) % len(f.states)
	raw := f.raws[si][int(i)/len(f.states)]
	id, err := ballot.NewVoteID()
	if err != nil {
		panic(err)
	}
	return dedup.Attempt{Vote: ballot.Vote{ID: id, State: f.states[si], Nullifier: ballot.HashHex([32]byte(raw)), Contest: "race", Choice: "alice", CastAt: time.Now().UnixMilli()}}
}

// noLedger is a NullifierLedger on which no nullifier was used.
type noLedger struct{}

func (noLedger) NullifierUsed(context.Context, string, string) (bool, error) { return false, nil }

// stallResult is one window of BenchmarkAOFRewriteStall.
type stallResult struct {
	accepted, p50, p99, max float64
	fsyncSeconds            int
	fsyncMax, writeMax      int64
	forkMS, mainUS, childS  float64
	rewriteS, baseBytes     int64
	diskMBs                 float64
}

// stallWindow offers rate votes/s for window under condition c.
func stallWindow(ctx context.Context, b *testing.B, srv *redistest.Server, f *aofFixture, c string, rate float64, window time.Duration) stallResult {
	rdb := srv.Client()
	if err := rdb.Do(ctx, "LATENCY", "RESET").Err(); err != nil {
		b.Fatal(err)
	}
	before, err := ReadRedisPersistence(ctx, rdb)
	if err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var disk atomic.Int64
	var wg sync.WaitGroup
	if c == "disk" || c == "rewrite+disk" {
		for i := range 2 {
			wg.Go(func() { disk.Add(diskWriter(wctx, b, filepath.Join(srv.Dir, fmt.Sprintf("ledger-%d", i)))) })
		}
	}
	if c == "rewrite-raw" { // the base file's strings written without LZF
		if err := rdb.ConfigSet(ctx, "rdbcompression", "no").Err(); err != nil {
			b.Fatal(err)
		}
		defer rdb.ConfigSet(ctx, "rdbcompression", "yes")
	}
	if c == "rewrite" || c == "rewrite+disk" || c == "rewrite-raw" {
		wg.Go(func() {
			select {
			case <-wctx.Done():
			case <-time.After(time.Second):
				if err := rdb.BgRewriteAOF(ctx).Err(); err != nil {
					b.Error(err)
				}
			}
		})
	}
	queue := make(chan time.Time, 1024)
	var mu sync.Mutex
	var lat []time.Duration
	var accepted atomic.Int64
	var workers sync.WaitGroup
	for range 256 {
		workers.Go(func() {
			for at := range queue {
				res, err := f.d.Accept(ctx, f.vote())
				done := time.Since(at)
				if err != nil || res.Outcome != dedup.Accepted {
					b.Errorf("vote: %+v, %v", res, err)
					continue
				}
				if time.Now().Before(at.Add(window + time.Second)) {
					accepted.Add(1)
				}
				mu.Lock()
				lat = append(lat, done)
				mu.Unlock()
			}
		})
	}
	began := time.Now()
	if rate > 0 {
		interval := time.Duration(float64(time.Second) / rate)
		for at := began; at.Before(began.Add(window)); at = at.Add(interval) {
			time.Sleep(time.Until(at))
			queue <- at // blocks when 1,024 wait, as the load generator's bound
		}
	} else { // closed loop: as fast as the callers go
		for time.Since(began) < window {
			if f.left() < 2048 {
				b.Fatal("out of voters: raise AOFSTALL_VOTERS")
			}
			queue <- time.Now()
		}
	}
	close(queue)
	workers.Wait()
	cancel()
	wg.Wait()
	// Let the rewrite end before the next window, and read its facts.
	for {
		p, err := ReadRedisPersistence(ctx, rdb)
		if err == nil && !p.RewriteInProgress {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	after, err := ReadRedisPersistence(ctx, rdb)
	if err != nil {
		b.Fatal(err)
	}
	events, err := ReadRedisLatency(ctx, rdb)
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	r := stallResult{accepted: float64(accepted.Load()) / window.Seconds(), p50: ms(Percentile(lat, 50)), p99: ms(Percentile(lat, 99)), max: ms(lat[len(lat)-1])}
	for _, s := range events["aof-fsync-always"] {
		r.fsyncSeconds++
		r.fsyncMax = max(r.fsyncMax, s.MS)
	}
	for _, e := range []string{"aof-write", "aof-write-active-child", "aof-write-alone", "aof-write-pending-fsync"} {
		for _, s := range events[e] {
			r.writeMax = max(r.writeMax, s.MS)
		}
	}
	if after.Rewrites > before.Rewrites {
		r.forkMS, r.rewriteS, r.baseBytes = float64(after.ForkUS)/1000, after.LastRewriteS, after.BaseBytes
	}
	r.mainUS = (after.MainCPU - before.MainCPU).Seconds() / float64(len(lat)) * 1e6
	r.childS = (after.ChildrenCPU - before.ChildrenCPU).Seconds()
	r.diskMBs = float64(disk.Load()) / (1 << 20) / window.Seconds()
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// diskWriter writes 256 KiB blocks to file, each followed by fdatasync
// (as a peer appends a block and LevelDB syncs its log), until ctx ends,
// wrapping at 256 MiB; it returns the bytes written.
func diskWriter(ctx context.Context, b *testing.B, file string) int64 {
	f, err := os.Create(file)
	if err != nil {
		b.Error(err)
		return 0
	}
	defer os.Remove(file)
	defer f.Close()
	block := make([]byte, 256<<10)
	for i := range block {
		block[i] = byte(i * 7)
	}
	var n int64
	for ctx.Err() == nil {
		if _, err := f.WriteAt(block, n%(256<<20)); err != nil {
			b.Error(err)
			return n
		}
		if err := f.Sync(); err != nil {
			b.Error(err)
			return n
		}
		n += int64(len(block))
	}
	return n
}

// rewrite waits for a running rewrite (an automatic one) to end, then
// runs BGREWRITEAOF and waits for it to end.
func rewrite(ctx context.Context, b *testing.B, rdb RedisReader) {
	idle := func() {
		for {
			p, err := ReadRedisPersistence(ctx, rdb)
			if err != nil {
				b.Fatal(err)
			}
			if !p.RewriteInProgress {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	idle()
	if err := rdb.Do(ctx, "BGREWRITEAOF").Err(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	idle()
}

// stallConfig applies "key value ..." with CONFIG SET.
func stallConfig(ctx context.Context, srv *redistest.Server, cfg string) error {
	f := strings.Fields(cfg)
	if len(f)%2 != 0 {
		return fmt.Errorf("AOFSTALL_CONFIG=%q: want key value pairs", cfg)
	}
	for i := 0; i < len(f); i += 2 {
		if err := srv.Client().ConfigSet(ctx, f[i], f[i+1]).Err(); err != nil {
			return fmt.Errorf("CONFIG SET %s %s: %w", f[i], f[i+1], err)
		}
	}
	return nil
}

// BenchmarkAOFReplay measures what a restart costs Redis with its AOF as
// Votechain keeps it: a roll of AOFREPLAY_VOTERS voters (3,000,000) in the
// base file (RDB-encoded, after a rewrite) with AOFREPLAY_FILL_MB of filler
// hashes (350), then AOFREPLAY_VOTES votes
// (300,000) accepted through the intake script in the incremental file.
// It kills Redis (SIGKILL, a crash) and times its restart to the first
// PONG: with the votes in the incremental file, then twice after a
// rewrite folded them into the base, written with rdbcompression yes and
// no. It reports the files' MB, the restarts' seconds, and the replay's
// seconds per 100 MB of incremental file: what a larger
// auto-aof-rewrite-percentage (a longer incremental file between
// rewrites) adds to a restart.
//
//	go test -run '^$' -bench AOFReplay -benchtime 1x -timeout 60m ./bench/measure/
func BenchmarkAOFReplay(b *testing.B) {
	voters, votes := benchenv.Int(b, "AOFREPLAY_VOTERS", 3_000_000, 1), benchenv.Int(b, "AOFREPLAY_VOTES", 300_000, 1)
	ctx := context.Background()
	srv := redistest.Start(b)
	// No automatic rewrite may fold the votes into the base meanwhile.
	if err := srv.Client().ConfigSet(ctx, "auto-aof-rewrite-percentage", "0").Err(); err != nil {
		b.Fatal(err)
	}
	f := newAOFFixture(ctx, b, srv, voters, benchenv.Int(b, "AOFREPLAY_FILL_MB", 350, 1))
	var workers sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(votes))
	began := time.Now()
	for range 256 {
		workers.Go(func() {
			for left.Add(-1) >= 0 {
				if res, err := f.d.Accept(ctx, f.vote()); err != nil || res.Outcome != dedup.Accepted {
					b.Errorf("vote: %+v, %v", res, err)
					return
				}
			}
		})
	}
	workers.Wait()
	b.Logf("%d votes accepted in %s", votes, time.Since(began).Round(time.Second))
	restart := func() (base, incr int64, took time.Duration) {
		p, err := ReadRedisPersistence(ctx, srv.Client())
		if err != nil {
			b.Fatal(err)
		}
		srv.Kill()
		from := time.Now()
		srv.Restart()
		return p.BaseBytes, p.CurrentBytes - p.BaseBytes, time.Since(from)
	}
	b.ResetTimer()
	base, incr, withIncr := restart()
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	// Then the base alone, written with and without LZF (rdbcompression).
	bases := map[string]float64{}
	for _, comp := range []string{"yes", "no"} {
		if err := srv.Client().ConfigSet(ctx, "auto-aof-rewrite-percentage", "0").Err(); err != nil { // a restart reset it
			b.Fatal(err)
		}
		if err := srv.Client().ConfigSet(ctx, "rdbcompression", comp).Err(); err != nil {
			b.Fatal(err)
		}
		rewrite(ctx, b, srv.Client())
		baseOnly, _, took := restart()
		b.Logf("restart with a %.0f MB base alone (rdbcompression %s): %.1f s", mb(baseOnly), comp, took.Seconds())
		bases[comp] = took.Seconds()
		b.ReportMetric(mb(baseOnly), "base-compression-"+comp+"-MB")
		b.ReportMetric(took.Seconds(), "restart-base-compression-"+comp+"-s")
	}
	b.StopTimer()
	b.Logf("restart with a %.0f MB base and a %.0f MB incremental file (%d votes): %.1f s", mb(base), mb(incr), votes, withIncr.Seconds())
	b.ReportMetric(mb(base), "base-MB")
	b.ReportMetric(mb(incr), "incr-MB")
	b.ReportMetric(withIncr.Seconds(), "restart-with-incr-s")
	b.ReportMetric((withIncr.Seconds()-bases["yes"])/mb(incr)*100, "replay-s/100MB")
	b.ReportMetric(float64(incr)/float64(votes), "incr-B/vote")
}
