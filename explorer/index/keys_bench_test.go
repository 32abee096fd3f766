package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/network/fabricblock"
)

// BenchmarkSaveVotes saves blocks of votes (4 batches of 500, every vote
// counted, each batch's nullifiers first looked up as the audit does)
// into an index whose vote key segments already hold millions of rows of
// each kind at random keys, committing every 4 blocks (8,000 votes: what a
// follower at the ledger's ceiling saves per 500 ms commit delay). It
// measures the store alone, without the audit: cpu-ns/vote is the
// process's CPU time per vote saved (user + system, every thread), which
// includes the WAL writes and checkpoints the commits cause; making the
// reports is not counted.
//
// INDEX_BENCH_ROWS sets the rows each of the two tables holds before
// (default 3,000,000); INDEX_BENCH_TEMPLATE, if set, is a file that keeps
// the filled index between runs (made the first time, copied after: the
// filling takes a minute). Before the timer starts, warmVotes votes are
// saved, so that the page cache and whatever the store keeps of the
// recent votes are as a running follower has them; the vote keys kept in
// memory are written then, and the measured votes' before the timer stops.
func BenchmarkSaveVotes(b *testing.B) {
	const (
		blockBatches, batchVotes = 4, 500
		blocksPerCommit          = 4
		warmVotes                = 400_000
	)
	rows := 3_000_000
	if s := os.Getenv("INDEX_BENCH_ROWS"); s != "" {
		var err error
		if rows, err = strconv.Atoi(s); err != nil {
			b.Fatalf("INDEX_BENCH_ROWS=%q: %v", s, err)
		}
	}
	b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
		ctx := context.Background()
		path := filepath.Join(b.TempDir(), "index.db")
		grownIndex(b, path, rows)
		x, err := Open(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Close()
		rng := rand.New(rand.NewPCG(uint64(rows), 1))
		block := uint64(0)
		var cpu time.Duration // in saves only, not in making the reports
		save := func(blocks int) {
			for blocks > 0 {
				reports := make([]audit.Report, min(blocks, blocksPerCommit))
				for i := range reports {
					reports[i] = votesReport(b, rng, block, blockBatches, batchVotes)
					block++
				}
				blocks -= len(reports)
				began := benchenv.CPUTime(b)
				w, err := x.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range reports {
					for _, bt := range r.Batches { // the audit's duplicate lookup
						keys := make([]audit.Nullifier, len(bt.Batch.Votes))
						for j, v := range bt.Batch.Votes {
							keys[j] = audit.Nullifier{State: v.State, Nullifier: v.Nullifier}
						}
						if used, err := w.UsedNullifiers(ctx, keys); err != nil || len(used) != 0 {
							b.Fatalf("fresh nullifiers found used: %d, %v", len(used), err)
						}
					}
					if err := w.Save(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Commit(); err != nil {
					b.Fatal(err)
				}
				cpu += benchenv.CPUTime(b) - began
			}
		}
		save(warmVotes / (blockBatches * batchVotes))
		flush := func() { // the vote keys kept in memory (pending.go)
			began := benchenv.CPUTime(b)
			if err := x.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			cpu += benchenv.CPUTime(b) - began
		}
		flush()
		cpu = 0
		b.ResetTimer()
		save(b.N)
		flush() // the measured votes' keys written before the timer stops
		b.StopTimer()
		votes := float64(b.N * blockBatches * batchVotes)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/votes, "ns/vote")
		b.ReportMetric(float64(cpu.Nanoseconds())/votes, "cpu-ns/vote")
	})
}

// votesReport is block number n of batches batches of votes votes each, at
// random ids and nullifiers, all counted.
func votesReport(tb testing.TB, rng *rand.Rand, n uint64, batches, votes int) audit.Report {
	tb.Helper()
	now := time.Now()
	r := audit.Report{Block: fabricblock.Block{Number: n, Hash: []byte(fmt.Sprint(n)), PreviousHash: []byte{}, DataHash: []byte{}, DataHashOK: true, Time: now}}
	hex := func(bytes int) string {
		b := make([]byte, bytes)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return fmt.Sprintf("%x", b)
	}
	for t := range batches {
		state := []string{"CA", "NY", "TX", "FL"}[t%4]
		bt := ballot.Batch{State: state, Seq: n*uint64(batches) + uint64(t) + 1, Root: hex(32)}
		for range votes {
			bt.Votes = append(bt.Votes, ballot.Vote{ID: hex(16), State: state, Contest: "president", Nullifier: hex(32), Choice: "alice", CastAt: now.UnixMilli()})
		}
		raw, err := json.Marshal(bt)
		if err != nil {
			tb.Fatal(err)
		}
		txID := fmt.Sprintf("tx%d.%d", n, t)
		r.Block.Txs = append(r.Block.Txs, fabricblock.Tx{Index: t, ID: txID, Type: "ENDORSER_TRANSACTION", Time: now, Code: "VALID", Chaincode: "ballot", Function: "CommitBatch"})
		r.Batches = append(r.Batches, audit.Batch{TxID: txID, TxIndex: t, Batch: bt, Raw: raw, Tallies: ballot.Tally{"president": {"alice": uint64(votes)}}, RootOK: true, RecordOK: true})
	}
	return r
}

// grownIndex makes at path an index whose vote key segments hold rows rows
// of each kind at random keys, in one segment each, copying it from
// INDEX_BENCH_TEMPLATE if that holds one.
func grownIndex(tb testing.TB, path string, rows int) {
	tb.Helper()
	template := os.Getenv("INDEX_BENCH_TEMPLATE")
	if template != "" {
		if err := benchenv.CopyFile(path, template); err == nil {
			return
		} else if !errors.Is(err, fs.ErrNotExist) {
			tb.Fatal(err)
		}
	}
	x, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(rows), 2))
	for _, kind := range []int{segmentIDs, segmentUsed} {
		keys := make([]keyRow, rows)
		for i := range keys {
			keys[i] = keyRow{int64(rng.Uint64()), keyPlace{int64(1_000_000 + i/500), int32(i % 500)}}
		}
		addSegmentRows(tb, x, kind, keys)
	}
	if _, err := x.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
	if err := x.Close(); err != nil {
		tb.Fatal(err)
	}
	if template != "" {
		if err := benchenv.CopyFile(template, path); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkSegmentMerges drives the vote key segments alone (no blocks):
// one kind's keys, random, flushed 200,000 rows at a time
// (pendingFlushRows), each flush a commit of its own, until the kind holds
// INDEX_MERGE_ROWS rows (default 2,000,000; an op is the whole filling, so
// run it -benchtime 1x), under the merge policy before the ceiling
// (policy=unbounded) and the index's (policy=bounded). It reports the most
// rows one commit's merge read back from the segments (max-read-rows, and
// as MB at 16 bytes a row), the longest commit (max-commit-ms, wall
// time), the largest size the write-ahead log reached (wal-MB), the CPU
// per row flushed (cpu-ns/row), the segments at the end, and the wall and
// CPU time of a lookup of a random key in them (lookup-ns, lookup-cpu-ns:
// segmentPlaces, the second 20,000 lookups, after a checkpoint).
func BenchmarkSegmentMerges(b *testing.B) {
	const flush = pendingFlushRows
	total := 2_000_000
	if s := os.Getenv("INDEX_MERGE_ROWS"); s != "" {
		var err error
		if total, err = strconv.Atoi(s); err != nil {
			b.Fatalf("INDEX_MERGE_ROWS=%q: %v", s, err)
		}
	}
	for _, c := range []struct {
		name   string
		policy mergePolicy
	}{{"unbounded", mergePolicy{ratio: 2}}, {"bounded", defaultMergePolicy}} {
		b.Run(fmt.Sprintf("policy=%s/rows=%d", c.name, total), func(b *testing.B) {
			for range b.N {
				path := filepath.Join(b.TempDir(), "index.db")
				x, err := Open(context.Background(), path)
				if err != nil {
					b.Fatal(err)
				}
				x.merges = c.policy
				rng := rand.New(rand.NewPCG(uint64(total), 3))
				var maxRead, walBytes int64
				var maxCommit, cpu time.Duration
				rows := make([]keyRow, flush)
				for done := 0; done < total; done += flush {
					for i := range rows {
						rows[i] = keyRow{int64(rng.Uint64()), keyPlace{int64(done/500 + i/500 + 1), int32(i % 500)}}
					}
					before := segmentList(b, x)
					began, cpuBegan := time.Now(), benchenv.CPUTime(b)
					addSegmentRows(b, x, segmentIDs, rows)
					maxCommit, cpu = max(maxCommit, time.Since(began)), cpu+benchenv.CPUTime(b)-cpuBegan
					after := segmentList(b, x)
					var read int64
					for _, s := range before {
						if !slices.Contains(after, s) {
							read += s.rows
						}
					}
					maxRead = max(maxRead, read)
					if fi, err := os.Stat(path + "-wal"); err == nil {
						walBytes = max(walBytes, fi.Size())
					}
				}
				segs := len(segmentList(b, x))
				// The lookups read the segments from the database file, as
				// they do once a checkpoint wrote them there.
				if _, err := x.write.ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
					b.Fatal(err)
				}
				const lookups = 20_000
				var lookup, lookupCPU time.Duration
				for range 2 { // the second time, the mapped pages read once
					began, cpuBegan := time.Now(), benchenv.CPUTime(b)
					for range lookups {
						if _, err := segmentPlaces(context.Background(), x.segs, segmentIDs, int64(rng.Uint64()), nil); err != nil {
							b.Fatal(err)
						}
					}
					lookup, lookupCPU = time.Since(began)/lookups, (benchenv.CPUTime(b)-cpuBegan)/lookups
				}
				if err := x.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(maxRead), "max-read-rows")
				b.ReportMetric(float64(maxRead*segmentRowBytes)/1e6, "max-read-MB")
				b.ReportMetric(float64(maxCommit.Milliseconds()), "max-commit-ms")
				b.ReportMetric(float64(walBytes)/1e6, "wal-MB")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "cpu-ns/row")
				b.ReportMetric(float64(segs), "segments")
				b.ReportMetric(float64(lookup.Nanoseconds()), "lookup-ns")
				b.ReportMetric(float64(lookupCPU.Nanoseconds()), "lookup-cpu-ns")
			}
		})
	}
}
