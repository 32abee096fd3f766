package ledgerload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/network/fabricclient"
)

// Drive says how to drive the chaincode directly.
type Drive struct {
	VotesPerTx int           // votes in each batch (1 for the naive baseline)
	InFlight   int           // transactions submitted concurrently
	Warmup     time.Duration // submitting before the measured window opens (commits in it are not counted)
	Duration   time.Duration // the measured window, after the warm-up
	Prebuilt   int           // batches built before the clock starts
	SeqBase    uint64        // first sequence number (>= DriverSeqBase, fresh for this run)
	StopAfter  int           // if > 0, stop once this many votes are committed (filling the ledger)
	// Roll, if set, casts the votes as these voters, each once, so that a
	// chaincode with a sealed roll counts them (the ceiling with
	// eligibility); else every vote is of a random voter. The drive ends
	// early when the roll runs out (DriveResult.RollOut).
	Roll []ballot.RollEntry
	// Contests are the ids of the election's contests the votes go to, in
	// turn (vote i of a batch in Contests[i%len]); nil for all of them.
	Contests []string
}

// DriveResult is what the drive achieved.
type DriveResult struct {
	VotesPerTx int     `json:"votes_per_tx"`
	InFlight   int     `json:"in_flight"`
	DurationS  float64 `json:"duration_s"`
	Txs        int     `json:"txs"`
	Votes      int     `json:"votes"`     // committed in the measured window
	AllVotes   int     `json:"all_votes"` // committed over the whole drive, warm-up and tail included
	// What the chaincode made of the votes committed over the whole drive:
	// counted, rejected and why (reason → votes).
	Counted     int            `json:"counted"`
	Rejected    int            `json:"rejected"`
	Reasons     map[string]int `json:"rejected_reasons,omitempty"`
	CountedPerS float64        `json:"counted_per_s"`            // counted in the measured window, per second
	RollOut     bool           `json:"roll_exhausted,omitempty"` // the drive ended early: every voter of Drive.Roll was cast
	// RollTaken is, per state and contest, how many of Drive.Roll's entries
	// went into submitted batches (a prefix of the state's entries of the
	// contest); the rest were not cast and may be used by a later drive.
	RollTaken  map[RollKey]int `json:"-"`
	Errors     int             `json:"errors"`
	FirstError string          `json:"first_error,omitempty"`
	TxPerS     float64         `json:"tx_per_s"`
	VotesPerS  float64         `json:"votes_per_s"`
	Latency    measure.Latency `json:"commit_latency"` // submit to VALID commit status
}

// SeqBaseFor returns a driver sequence base that no earlier run on the same
// ledger used: DriverSeqBase plus 100,000 numbers per second of the clock.
func SeqBaseFor(now time.Time) uint64 {
	return DriverSeqBase + uint64(now.Unix())*100_000
}

// RollKey is a state and a contest of it: the roll entries a drive takes
// in order.
type RollKey struct{ State, Contest string }

// Run commits fresh batches of random votes over the election's states and
// d.Contests (all the election's if nil), d.InFlight at a time, for d.Warmup and then d.Duration (or until
// d.StopAfter votes are committed), and reports the votes committed per
// second of the measured window (transactions that end in it). Each batch is built (vote ids, nullifiers, Merkle root, tallies)
// before it is submitted; d.Prebuilt of them before the clock starts, so
// the measure is of the ledger, not of the client.
func Run(ctx context.Context, ledger *fabricclient.Ballot, e *ballot.Election, d Drive) (DriveResult, error) {
	contests, err := driveContests(e, d.Contests)
	if err != nil {
		return DriveResult{}, err
	}
	var seq atomic.Uint64
	seq.Store(d.SeqBase)
	voters := newRollVoters(d.Roll, contests)
	build := func() (ballot.Batch, error) {
		n := seq.Add(1) - 1
		state := e.States[n%uint64(len(e.States))]
		if d.Roll != nil {
			state = voters.fullest()
		}
		b, err := RandomBatch(state, n, contests, d.VotesPerTx, time.Now())
		if err != nil || d.Roll == nil {
			return b, err
		}
		return voters.cast(b)
	}
	res := DriveResult{VotesPerTx: d.VotesPerTx, InFlight: d.InFlight, RollTaken: map[RollKey]int{}, Reasons: map[string]int{}}
	ready := make(chan ballot.Batch, max(d.Prebuilt, d.InFlight))
	for range cap(ready) {
		b, err := build()
		if errors.Is(err, errRollOut) && len(ready) > 0 {
			break
		}
		if err != nil {
			return res, err
		}
		ready <- b
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// rollOut: a submitter found the queue closed and empty.
	var rollOut atomic.Bool
	go func() { // keep the queue topped up; closed when the roll runs out
		for {
			b, err := build()
			if err != nil {
				if errors.Is(err, errRollOut) {
					close(ready)
				}
				return
			}
			select {
			case ready <- b:
			case <-ctx.Done():
				return
			}
		}
	}()

	var mu sync.Mutex
	var lat []time.Duration
	began := time.Now().Add(d.Warmup) // the measured window's start
	deadline := began.Add(d.Duration)
	var done atomic.Bool // StopAfter reached
	counted := 0         // counted in the measured window
	ended := deadline
	var wg sync.WaitGroup
	for range d.InFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil && !done.Load() {
				var b ballot.Batch
				select {
				case next, ok := <-ready:
					if !ok {
						rollOut.Store(true)
						return
					}
					b = next
				case <-ctx.Done():
					return
				}
				mu.Lock()
				for _, v := range b.Votes {
					res.RollTaken[RollKey{v.State, v.Contest}]++
				}
				mu.Unlock()
				t := time.Now()
				c, err := ledger.CommitBatch(ctx, b)
				took := time.Since(t)
				mu.Lock()
				if err == nil {
					res.AllVotes += len(b.Votes)
					res.Counted += c.Record.Counted
					res.Rejected += len(c.Record.Rejected)
					for _, why := range c.Record.Reasons {
						res.Reasons[why]++
					}
				}
				if err != nil {
					res.Errors++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
				} else if at := t.Add(took); !at.Before(began) && !at.After(deadline) {
					res.Txs++
					res.Votes += len(b.Votes)
					counted += c.Record.Counted
					lat = append(lat, took)
					if d.StopAfter > 0 && res.Votes >= d.StopAfter && !done.Load() {
						done.Store(true)
						ended = time.Now()
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if res.RollOut = rollOut.Load(); res.RollOut && ended.After(time.Now()) {
		ended = time.Now()
	}
	if res.DurationS = ended.Sub(began).Seconds(); res.DurationS <= 0 {
		return res, errRollOut // it ran out during the warm-up
	}
	res.TxPerS = float64(res.Txs) / res.DurationS
	res.VotesPerS = float64(res.Votes) / res.DurationS
	res.CountedPerS = float64(counted) / res.DurationS
	res.Latency = measure.Summarize(lat)
	return res, nil
}

// Unused returns the entries of roll the drive did not cast (roll as the
// drive got it in Drive.Roll, or a superset of it in the same order): the
// voters a later drive may still cast.
func (r DriveResult) Unused(roll []ballot.RollEntry) []ballot.RollEntry {
	taken := maps.Clone(r.RollTaken)
	left := roll[:0:0]
	for _, e := range roll {
		if k := (RollKey{e.State, e.Contest}); taken[k] > 0 {
			taken[k]--
			continue
		}
		left = append(left, e)
	}
	return left
}

// RandomBatch builds batch seq of state with n votes cast at castAt, each
// with a fresh random vote id and nullifier. Vote i is the drive's vote
// k = seq·n + i: in contest k mod len(contests), for that contest's choice
// k / len(contests) (mod its choices), so the votes spread over the contests
// and choices evenly even at one vote per batch.
func RandomBatch(state string, seq uint64, contests []ballot.Contest, n int, castAt time.Time) (ballot.Batch, error) {
	votes := make([]ballot.Vote, n)
	raw := make([]byte, 48*n)
	if _, err := rand.Read(raw); err != nil {
		return ballot.Batch{}, err
	}
	nc := uint64(len(contests))
	for i := range votes {
		r := raw[48*i:]
		k := seq*uint64(n) + uint64(i)
		c := contests[k%nc]
		votes[i] = ballot.Vote{
			ID: hex.EncodeToString(r[:16]), State: state, Contest: c.ID, Nullifier: hex.EncodeToString(r[16:48]),
			Choice: c.Choices[(k/nc)%uint64(len(c.Choices))], CastAt: castAt.UnixMilli(),
		}
	}
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("ledgerload: %w", err)
	}
	return b, nil
}

// driveContests is the election's contests of the given ids, in that
// order; all of them if ids is nil.
func driveContests(e *ballot.Election, ids []string) ([]ballot.Contest, error) {
	if ids == nil {
		return e.Contests, nil
	}
	out := make([]ballot.Contest, 0, len(ids))
	for _, id := range ids {
		c, ok := e.Contest(id)
		if !ok {
			return nil, fmt.Errorf("ledgerload: the election has no contest %q (it has %v)", id, e.ContestIDs())
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("ledgerload: a drive needs at least one contest")
	}
	return out, nil
}

// errRollOut is build's error when the roll has too few voters left.
var errRollOut = errors.New("ledgerload: the roll ran out")

// rollVoters hands out the roll's entries of each state and contest in
// turn.
type rollVoters struct {
	contests []string
	left     map[RollKey][]string // nullifiers not yet cast
	states   []string
}

// newRollVoters keeps the entries of roll in the given contests.
func newRollVoters(roll []ballot.RollEntry, contests []ballot.Contest) *rollVoters {
	v := &rollVoters{left: map[RollKey][]string{}}
	for _, c := range contests {
		v.contests = append(v.contests, c.ID)
	}
	for _, e := range roll {
		if !slices.Contains(v.contests, e.Contest) {
			continue
		}
		k := RollKey{e.State, e.Contest}
		if _, ok := v.left[k]; !ok && !slices.Contains(v.states, e.State) {
			v.states = append(v.states, e.State)
		}
		v.left[k] = append(v.left[k], e.Nullifier)
	}
	slices.Sort(v.states)
	return v
}

// room is how many entries the state has left in its emptiest contest.
func (v *rollVoters) room(state string) int {
	n := -1
	for _, c := range v.contests {
		if l := len(v.left[RollKey{state, c}]); n < 0 || l < n {
			n = l
		}
	}
	return n
}

// fullest is the state with the most room (so a roll skewed by state lasts
// as long as it can).
func (v *rollVoters) fullest() string {
	best := ""
	for _, s := range v.states {
		if best == "" || v.room(s) > v.room(best) {
			best = s
		}
	}
	return best
}

// cast gives each of b's votes the next unused roll entry of the batch's
// state and the vote's contest, and rebuilds the batch.
func (v *rollVoters) cast(b ballot.Batch) (ballot.Batch, error) {
	need := map[RollKey]int{}
	for _, vote := range b.Votes {
		need[RollKey{b.State, vote.Contest}]++
	}
	for k, n := range need {
		if left := len(v.left[k]); left < n {
			return ballot.Batch{}, fmt.Errorf("%w: %s has %d voters left in %s, %d needed", errRollOut, k.State, left, k.Contest, n)
		}
	}
	for i := range b.Votes {
		k := RollKey{b.State, b.Votes[i].Contest}
		b.Votes[i].Nullifier, v.left[k] = v.left[k][0], v.left[k][1:]
	}
	return ballot.BuildBatch(b.State, b.Seq, b.Votes)
}
