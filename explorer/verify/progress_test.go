package verify

import (
	"context"
	"slices"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// recordedBar is a Bar that records what it is told.
type recordedBar struct {
	step         Step
	total, added int64
	sets         int
	finished     bool
}

func (b *recordedBar) Add(n int64)      { b.added += n }
func (b *recordedBar) Set(int64, int64) { b.sets++ }
func (b *recordedBar) Finish()          { b.finished = true }

// recordedBars are Bars that keep each bar they start.
type recordedBars struct{ started []*recordedBar }

func (r *recordedBars) bars(step Step, total int64) Bar {
	b := &recordedBar{step: step, total: total}
	r.started = append(r.started, b)
	return b
}

// TestLogDrawsProgress: MonitorLog draws its steps on the Bars it is
// given, which the command makes its progress bars: the check of the logs
// (CheckingLogs, of no known total), told of what it read and finished;
// and, for more than ProgressFrom entries rejected as duplicates, the
// look-ups of their nullifiers (LocatingDuplicates), of their total, told
// of each and finished. ProgressFrom duplicates or fewer draw no bar of
// their look-ups. MonitorLog drew on a writer with internal/cli's bar.
func TestLogDrawsProgress(t *testing.T) {
	key, keys := registeredKey(t)
	for _, dups := range []int{ProgressFrom, ProgressFrom + 2} {
		votes := caVotes(dups+1, 0)
		batch, err := ballot.BuildBatch("CA", 1, votes)
		if err != nil {
			t.Fatal(err)
		}
		rejected := make([]int, dups)
		for i := range rejected {
			rejected[i] = i + 1
		}
		ledger := locatingHeadedLedger{headedLedger{
			headlessLedger: headlessLedger{batch: batch, rejected: rejected, reasons: slices.Repeat([]string{ballot.RejectDuplicate}, dups)},
			head:           acceptanceOf(t, logOf(votes), votes, 0, uint64(len(votes)), key).Head, keys: keys}, &nullifiersAt{fail: ballot.ErrNotFound}}
		var r recordedBars
		if _, out, err := runLogCheckWith(context.Background(), t, votes, ledger, nil, r.bars); err != nil {
			t.Fatalf("%d duplicates: %v:\n%s", dups, err, out)
		}
		want := 1
		if dups > ProgressFrom {
			want = 2
		}
		if len(r.started) != want {
			t.Fatalf("%d duplicates: %d bars started; want %d", dups, len(r.started), want)
		}
		if c := r.started[0]; c.step != CheckingLogs || c.total != 0 || c.sets == 0 || !c.finished {
			t.Errorf("%d duplicates: the first bar %+v; want CheckingLogs of no total, set and finished", dups, *c)
		}
		if want == 2 {
			if d := r.started[1]; d.step != LocatingDuplicates || d.total != int64(dups) || d.added != int64(dups) || !d.finished {
				t.Errorf("%d duplicates: the second bar %+v; want LocatingDuplicates of %d, told of each and finished", dups, *d, dups)
			}
		}
	}
}
