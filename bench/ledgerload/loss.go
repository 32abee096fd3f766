package ledgerload

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/network/fabricclient"
)

// Loss is the exactly-once check: the votes the gateway answered 202 against
// the votes the ledger counts in the batcher's batches of this run.
type Loss struct {
	Accepted        int      `json:"accepted_202"`         // distinct vote ids answered 202
	RepeatedAnswers int      `json:"repeated_202_answers"` // ids answered 202 more than once
	UnreadableIDs   int      `json:"unreadable_202_bodies"`
	Batches         int      `json:"batches"`        // batcher batches committed in this run
	Counted         int      `json:"counted"`        // votes those batches count
	Rejected        int      `json:"rejected"`       // votes the chaincode refused as duplicates
	Missing         int      `json:"missing"`        // answered 202, not counted
	Extra           int      `json:"extra"`          // counted, never answered 202 in this run
	CountedTwice    int      `json:"counted_twice"`  // counted in more than one batch
	Unreadable      int      `json:"unreadable_txs"` // batches whose transaction could not be read
	Unanswered      int      `json:"unanswered"`     // requests the client got no answer to (timeouts): outcome unknown
	OK              bool     `json:"ok"`
	Examples        []string `json:"examples,omitempty"`
}

// Commit is when one counted vote was cast (the gateway's 202 time, from
// the vote on the ledger) and when its batch's event arrived.
type Commit struct {
	CastAt    time.Time
	Committed time.Time
}

// Check reads the votes of every batcher batch among arrivals from the
// ledger's copy of its transaction and compares them with accepted (vote id
// -> how many 202 answers carried it). It also returns, for every counted
// vote, its cast and commit times.
//
// A request the client gave up on (unanswered) may still have been stored
// and counted: the client never learnt its id. So the check passes with
// extra counted votes as long as there are no more of them than unanswered
// requests; a missing or twice-counted vote always fails it.
func Check(ctx context.Context, ledger *fabricclient.Ballot, arrivals []Arrival, accepted map[loadgen.VoteID]int, unreadable202, unanswered int) (Loss, []Commit, error) {
	l := Loss{Accepted: len(accepted), UnreadableIDs: unreadable202, Unanswered: unanswered}
	for _, n := range accepted {
		if n > 1 {
			l.RepeatedAnswers++
		}
	}
	seen := map[string]bool{}
	var todo []Arrival
	for _, a := range arrivals {
		id := fmt.Sprintf("%s/%d", a.State, a.Seq)
		if IsDriverSeq(a.Seq) || seen[id] {
			continue
		}
		seen[id] = true
		todo = append(todo, a)
	}
	l.Batches = len(todo)

	counted := make(map[loadgen.VoteID]int, len(accepted))
	var commits []Commit
	var mu sync.Mutex
	jobs := make(chan Arrival)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				b, err := ledger.CommittedBatch(ctx, a.TxID)
				mu.Lock()
				if err != nil {
					l.Unreadable++
					l.example(fmt.Sprintf("batch %s/%d: %v", a.State, a.Seq, err))
					mu.Unlock()
					continue
				}
				rejected := map[int]bool{}
				for _, i := range a.Rejected {
					rejected[i] = true
				}
				for i, v := range b.Votes {
					if rejected[i] {
						l.Rejected++
						continue
					}
					id, ok := loadgen.ParseVoteID(v.ID)
					if !ok {
						l.example("vote id " + v.ID + " is not 32 hex")
						continue
					}
					counted[id]++
					l.Counted++
					commits = append(commits, Commit{CastAt: time.UnixMilli(v.CastAt), Committed: a.At})
				}
				mu.Unlock()
			}
		}()
	}
	for _, a := range todo {
		jobs <- a
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return l, nil, err
	}
	for id, n := range counted {
		if n > 1 {
			l.CountedTwice++
			l.example(fmt.Sprintf("vote %s counted %d times", id, n))
		}
		if accepted[id] == 0 {
			l.Extra++
			l.example(fmt.Sprintf("vote %s counted but never answered 202 in this run", id))
		}
	}
	for id := range accepted {
		if counted[id] == 0 {
			l.Missing++
			l.example(fmt.Sprintf("vote %s answered 202 but not counted", id))
		}
	}
	l.OK = l.Missing == 0 && l.Extra <= l.Unanswered && l.CountedTwice == 0 && l.RepeatedAnswers == 0 && l.Unreadable == 0 && l.UnreadableIDs == 0
	return l, commits, nil
}

func (l *Loss) example(s string) {
	if len(l.Examples) < 5 {
		l.Examples = append(l.Examples, s)
	}
}
