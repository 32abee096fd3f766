package index

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// killedMerges is the merge policy of TestPendingKeysSurviveKill's
// children: a ceiling of 150 rows on a merged segment, which the children's
// flushes of 37 votes or more reach within a round.
var killedMerges = mergePolicy{ratio: 2, maxRows: 150}

// killedChildEnv names the index file a child process of
// TestPendingKeysSurviveKill writes to until it is killed.
const killedChildEnv = "VOTECHAIN_INDEX_KILLED_CHILD"

// killedChildLifetime bounds a child's life: it writes until killed, which
// its parent does within 100 ms of its first commit; should the parent fail
// first, or go test be killed, the child exits of itself rather than write
// for ever.
const killedChildLifetime = 2 * time.Minute

// TestPendingKeysSurviveKill: a process that commits blocks (some Writers
// rolled back, the pending keys written every few commits as segments and
// merged up to a ceiling, killedMerges) is killed with SIGKILL at a random moment, six times on
// the same file, each time started again from it; after each kill the
// index opened anew finds every committed vote by id and its nullifier
// used, the key tables hold exactly the keys of the batches up to
// keys_flushed (the rest are read back into memory), and the segments are
// sound (checkSegments).
func TestPendingKeysSurviveKill(t *testing.T) {
	if path := os.Getenv(killedChildEnv); path != "" {
		writeUntilKilled(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "index.db")
	rng := rand.New(rand.NewPCG(17, 18))
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPendingKeysSurviveKill$")
		cmd.Env = append(os.Environ(), killedChildEnv+"="+path)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // should the round fail before its kill
			cmd.Process.Kill()
			cmd.Wait()
		})
		// Killed once it committed, at a random moment after.
		child := bufio.NewReader(out)
		line, err := child.ReadString('\n')
		if err == nil && !strings.HasPrefix(line, "committed") {
			rest, _ := io.ReadAll(child)
			t.Fatalf("round %d: the child failed: %s%s", round, line, rest)
		}
		if err != nil {
			t.Fatalf("round %d: the child committed nothing: %v", round, err)
		}
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()

		x, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var votes []ballot.Vote
		var flushed, tableVotes, pendingVotes int64
		if err := x.db.QueryRow(`SELECT batch FROM keys_flushed`).Scan(&flushed); err != nil {
			t.Fatal(err)
		}
		rows, err := x.db.Query(`SELECT id, data FROM batch_votes ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				t.Fatal(err)
			}
			b, err := ballot.DecodeBatch(data, audit.MaxBatchVotes)
			if err != nil {
				t.Fatal(err)
			}
			votes = append(votes, b.Votes...)
			if id <= flushed {
				tableVotes += int64(len(b.Votes))
			} else {
				pendingVotes += int64(len(b.Votes))
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		counts := rowCounts(t, x)
		if ids, used := counts[0]+counts[1], counts[2]+counts[3]; ids != tableVotes || used != tableVotes || int64(x.pending.votes) != pendingVotes {
			t.Fatalf("round %d, killed: key tables hold %d ids and %d nullifiers, %d pending; want %d each (batches up to keys_flushed %d) and %d pending",
				round, ids, used, x.pending.votes, tableVotes, flushed, pendingVotes)
		}
		findAll(t, x, votes)
		x.merges = killedMerges
		checkSegments(t, x)
		var segs int64
		if err := x.db.QueryRow(`SELECT COUNT(*) FROM key_segments WHERE kind = 0`).Scan(&segs); err != nil || segs < tableVotes/killedMerges.maxRows {
			t.Fatalf("round %d: %d segments of %d vote ids, %v; want at least %d (the ceiling)", round, segs, tableVotes, err, tableVotes/killedMerges.maxRows)
		}
		t.Logf("round %d: %d votes committed, %d of them pending", round, len(votes), pendingVotes)
		if err := x.CloseWithoutFlush(); err != nil { // the pending keys not written, as killed
			t.Fatal(err)
		}
	}
}

// writeUntilKilled commits blocks of random votes to the index at path,
// one to three a Writer, every fifth Writer rolled back, until killed;
// it prints a line once it committed the first. It exits after
// killedChildLifetime.
func writeUntilKilled(t *testing.T, path string) {
	time.AfterFunc(killedChildLifetime, func() { os.Exit(4) })
	ctx := context.Background()
	x, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	x.flushRows, x.merges = 37, killedMerges
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	for i := 0; ; i++ {
		w, err := x.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next, _, err := x.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for n := range uint64(1 + rng.IntN(3)) {
			if err := w.Save(ctx, votesReport(t, rng, next+n, 2, 1+rng.IntN(9))); err != nil {
				t.Fatal(err)
			}
		}
		if i%5 == 4 {
			w.Rollback()
			continue
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fmt.Println("committed")
		}
	}
}
