package ledgerload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
	// RollTaken is, per state, how many of Drive.Roll's voters went into
	// submitted batches (a prefix of each state's voters); the rest were
	// not cast and may be used by a later drive.
	RollTaken  map[string]int  `json:"-"`
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

// Run commits fresh batches of random votes over the election's states,
// d.InFlight at a time, for d.Warmup and then d.Duration (or until
// d.StopAfter votes are committed), and reports the votes committed per
// second of the measured window (transactions that end in it). Each batch is built (vote ids, nullifiers, Merkle root, tallies)
// before it is submitted; d.Prebuilt of them before the clock starts, so
// the measure is of the ledger, not of the client.
func Run(ctx context.Context, ledger *fabricclient.Ballot, e *ballot.Election, d Drive) (DriveResult, error) {
	var seq atomic.Uint64
	seq.Store(d.SeqBase)
	voters := newRollVoters(d.Roll)
	build := func() (ballot.Batch, error) {
		n := seq.Add(1) - 1
		state := e.States[n%uint64(len(e.States))]
		if d.Roll != nil {
			state = voters.fullest()
		}
		b, err := RandomBatch(state, n, e.Contests, d.VotesPerTx, time.Now())
		if err != nil || d.Roll == nil {
			return b, err
		}
		return voters.cast(b, e)
	}
	res := DriveResult{VotesPerTx: d.VotesPerTx, InFlight: d.InFlight, RollTaken: map[string]int{}, Reasons: map[string]int{}}
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
				res.RollTaken[b.State] += len(b.Votes)
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

// RandomBatch builds batch seq of state with n votes cast at castAt, each
// with a fresh random vote id and nullifier, in the contests in turn, each
// vote for the next choice of its contest.
func RandomBatch(state string, seq uint64, contests []ballot.Contest, n int, castAt time.Time) (ballot.Batch, error) {
	votes := make([]ballot.Vote, n)
	raw := make([]byte, 48*n)
	if _, err := rand.Read(raw); err != nil {
		return ballot.Batch{}, err
	}
	for i := range votes {
		r := raw[48*i:]
		c := contests[i%len(contests)]
		votes[i] = ballot.Vote{
			ID: hex.EncodeToString(r[:16]), State: state, Contest: c.ID, Nullifier: hex.EncodeToString(r[16:48]),
			Choice: c.Choices[(i/len(contests))%len(c.Choices)], CastAt: castAt.UnixMilli(),
		}
	}
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("ledgerload: %w", err)
	}
	return b, nil
}

// errRollOut is build's error when the roll has too few voters left.
var errRollOut = errors.New("ledgerload: the roll ran out")

// rollVoters hands out each state's roll entries (a voter in a contest) in
// turn.
type rollVoters map[string][]ballot.RollEntry

func newRollVoters(roll []ballot.RollEntry) rollVoters {
	v := rollVoters{}
	for _, e := range roll {
		v[e.State] = append(v[e.State], e)
	}
	return v
}

// fullest is the state with the most voters left (so a roll skewed by
// state lasts as long as it can).
func (v rollVoters) fullest() string {
	best := ""
	for s, left := range v {
		if best == "" || len(left) > len(v[best]) || len(left) == len(v[best]) && s < best {
			best = s
		}
	}
	return best
}

// cast gives b's votes the state's next unused roll entries, each vote in
// its entry's contest for a choice of it, and rebuilds the batch.
func (v rollVoters) cast(b ballot.Batch, e *ballot.Election) (ballot.Batch, error) {
	left := v[b.State]
	if len(left) < len(b.Votes) {
		return ballot.Batch{}, fmt.Errorf("%w: %s has %d voters left, %d needed", errRollOut, b.State, len(left), len(b.Votes))
	}
	for i := range b.Votes {
		c, ok := e.Contest(left[i].Contest)
		if !ok {
			return ballot.Batch{}, fmt.Errorf("ledgerload: roll entry of contest %q, which the election lacks", left[i].Contest)
		}
		b.Votes[i].Contest, b.Votes[i].Nullifier = c.ID, left[i].Nullifier
		b.Votes[i].Choice = c.Choices[i%len(c.Choices)]
	}
	v[b.State] = left[len(b.Votes):]
	return ballot.BuildBatch(b.State, b.Seq, b.Votes)
}
