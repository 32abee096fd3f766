package ledgerload

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/network/fabricclient"
)

// Loss is the exactly-once check: the votes the gateway answered 202 against
// the votes the ledger counts in the batcher's batches of this run.
type Loss struct {
	Accepted        int `json:"accepted_202"`         // distinct vote ids answered 202
	RepeatedAnswers int `json:"repeated_202_answers"` // ids answered 202 more than once
	UnreadableIDs   int `json:"unreadable_202_bodies"`
	Batches         int `json:"batches"`        // batcher batches committed in this run
	Counted         int `json:"counted"`        // votes those batches count
	Rejected        int `json:"rejected"`       // votes the chaincode refused as duplicates
	Missing         int `json:"missing"`        // answered 202, not counted
	Extra           int `json:"extra"`          // counted, never answered 202 in this run
	CountedTwice    int `json:"counted_twice"`  // counted in more than one batch
	Unreadable      int `json:"unreadable_txs"` // batches whose transaction could not be read
	Unanswered      int `json:"unanswered"`     // requests the client got no answer to (timeouts): outcome unknown
	// Contests are the same counts per contest: the 202s by the contest
	// their request was sent in, the counted votes by their contest on the
	// ledger.
	Contests map[string]ContestLoss `json:"contests,omitempty"`
	// OtherContest counts votes counted in a contest other than the one
	// their 202's request was sent in.
	OtherContest int      `json:"counted_in_other_contest"`
	OK           bool     `json:"ok"`
	Examples     []string `json:"examples,omitempty"`
}

// ContestLoss is the exactly-once check of one contest.
type ContestLoss struct {
	Accepted int `json:"accepted_202"` // distinct vote ids answered 202 to a request in the contest
	Counted  int `json:"counted"`      // votes of the contest this run's batcher batches count
	Missing  int `json:"missing"`      // answered 202, not counted
}

// Commit is when one counted vote was cast (the gateway's 202 time, from
// the vote on the ledger) and when its batch's event arrived.
type Commit struct {
	CastAt    time.Time
	Committed time.Time
}

// Check reads the votes of every batcher batch among arrivals from the
// ledger's copy of its transaction and compares them with accepted (vote id
// -> how many 202 answers carried it), overall and per contest (contests:
// vote id -> the contest its request was sent in). It also returns, for
// every counted vote, its cast and commit times.
//
// A request the client gave up on (unanswered) may still have been stored
// and counted: the client never learnt its id. So the check passes with
// extra counted votes as long as there are no more of them than unanswered
// requests; a missing or twice-counted vote always fails it.
func Check(ctx context.Context, ledger *fabricclient.Ballot, arrivals []Arrival, accepted map[loadgen.VoteID]int, contests map[loadgen.VoteID]string, unreadable202, unanswered int) (Loss, []Commit, error) {
	l := Loss{Accepted: len(accepted), UnreadableIDs: unreadable202, Unanswered: unanswered, Contests: map[string]ContestLoss{}}
	perContest := func(contest string, f func(*ContestLoss)) {
		c := l.Contests[contest]
		f(&c)
		l.Contests[contest] = c
	}
	for id, n := range accepted {
		if n > 1 {
			l.RepeatedAnswers++
		}
		perContest(contests[id], func(c *ContestLoss) { c.Accepted++ })
	}
	todo := batcherBatches(arrivals, time.Time{})
	l.Batches = len(todo)

	counted := make(map[loadgen.VoteID]int, len(accepted))
	var commits []Commit
	readBatches(ctx, ledger, todo, func(a Arrival, b ballot.Batch, err error) {
		if err != nil {
			l.Unreadable++
			l.example(fmt.Sprintf("batch %s/%d: %v", a.State, a.Seq, err))
			return
		}
		rejected := a.rejected()
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
			perContest(v.Contest, func(c *ContestLoss) { c.Counted++ })
			if sent, ok := contests[id]; ok && sent != v.Contest {
				l.OtherContest++
				l.example(fmt.Sprintf("vote %s sent in %s, counted in %s", id, sent, v.Contest))
			}
			commits = append(commits, Commit{CastAt: time.UnixMilli(v.CastAt), Committed: a.At})
		}
	})
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
			perContest(contests[id], func(c *ContestLoss) { c.Missing++ })
			l.example(fmt.Sprintf("vote %s answered 202 but not counted", id))
		}
	}
	l.OK = l.Missing == 0 && l.OtherContest == 0 && l.Extra <= l.Unanswered && l.CountedTwice == 0 && l.RepeatedAnswers == 0 && l.Unreadable == 0 && l.UnreadableIDs == 0
	return l, commits, nil
}

// batcherBatches are the batcher's batches among arrivals (not the
// drivers'), each once, that arrived at or after from.
func batcherBatches(arrivals []Arrival, from time.Time) []Arrival {
	seen := map[string]bool{}
	var out []Arrival
	for _, a := range arrivals {
		id := fmt.Sprintf("%s/%d", a.State, a.Seq)
		if IsDriverSeq(a.Seq) || seen[id] || a.At.Before(from) {
			continue
		}
		seen[id] = true
		out = append(out, a)
	}
	return out
}

// rejected is the set of the arrival's votes the chaincode refused.
func (a Arrival) rejected() map[int]bool {
	m := make(map[int]bool, len(a.Rejected))
	for _, i := range a.Rejected {
		m[i] = true
	}
	return m
}

// readBatches reads the batch of every arrival from the ledger's copy of its
// transaction, 8 at a time, and hands each to fn (one call at a time).
func readBatches(ctx context.Context, ledger *fabricclient.Ballot, arrivals []Arrival, fn func(Arrival, ballot.Batch, error)) {
	var mu sync.Mutex
	jobs := make(chan Arrival)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				b, err := ledger.CommittedBatch(ctx, a.TxID, a.State, a.Seq)
				mu.Lock()
				fn(a, b, err)
				mu.Unlock()
			}
		}()
	}
	for _, a := range arrivals {
		jobs <- a
	}
	close(jobs)
	wg.Wait()
}

// CommitLatencies reads the batcher's batches among arrivals from the ledger
// and returns, for every vote in them cast in [from, to), the time from its
// cast (the gateway's 202) to its batch's commit event; and how many votes
// in the window it could not read. Call it once the window's votes have
// drained onto the ledger.
func CommitLatencies(ctx context.Context, ledger *fabricclient.Ballot, arrivals []Arrival, from, to time.Time) ([]time.Duration, int, error) {
	todo := batcherBatches(arrivals, from)
	var lat []time.Duration
	var unreadable int
	// Cast times are whole milliseconds: allow one on either side.
	lo, hi := from.Add(-time.Millisecond), to.Add(time.Millisecond)
	readBatches(ctx, ledger, todo, func(a Arrival, b ballot.Batch, err error) {
		if err != nil {
			unreadable++
			return
		}
		rejected := a.rejected()
		for i, v := range b.Votes {
			if cast := time.UnixMilli(v.CastAt); !rejected[i] && !cast.Before(lo) && cast.Before(hi) {
				lat = append(lat, a.At.Sub(cast))
			}
		}
	})
	return lat, unreadable, ctx.Err()
}

func (l *Loss) example(s string) {
	if len(l.Examples) < 5 {
		l.Examples = append(l.Examples, s)
	}
}
