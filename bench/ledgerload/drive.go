package ledgerload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// eligibility); else every vote is of a random voter.
	Roll []ballot.RollEntry
}

// DriveResult is what the drive achieved.
type DriveResult struct {
	VotesPerTx int             `json:"votes_per_tx"`
	InFlight   int             `json:"in_flight"`
	DurationS  float64         `json:"duration_s"`
	Txs        int             `json:"txs"`
	Votes      int             `json:"votes"`     // committed in the measured window
	AllVotes   int             `json:"all_votes"` // committed over the whole drive, warm-up and tail included
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
		b, err := RandomBatch(state, n, e.Candidates, d.VotesPerTx, time.Now())
		if err != nil || d.Roll == nil {
			return b, err
		}
		return voters.cast(b)
	}
	ready := make(chan ballot.Batch, max(d.Prebuilt, d.InFlight))
	for range cap(ready) {
		b, err := build()
		if err != nil {
			return DriveResult{}, err
		}
		ready <- b
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // keep the queue topped up
		for {
			b, err := build()
			if err != nil {
				return
			}
			select {
			case ready <- b:
			case <-ctx.Done():
				return
			}
		}
	}()

	res := DriveResult{VotesPerTx: d.VotesPerTx, InFlight: d.InFlight}
	var mu sync.Mutex
	var lat []time.Duration
	began := time.Now().Add(d.Warmup) // the measured window's start
	deadline := began.Add(d.Duration)
	var done atomic.Bool // StopAfter reached
	ended := deadline
	var wg sync.WaitGroup
	for range d.InFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil && !done.Load() {
				b := <-ready
				t := time.Now()
				_, err := ledger.CommitBatch(ctx, b)
				took := time.Since(t)
				mu.Lock()
				if err == nil {
					res.AllVotes += len(b.Votes)
				}
				if err != nil {
					res.Errors++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
				} else if at := t.Add(took); !at.Before(began) && !at.After(deadline) {
					res.Txs++
					res.Votes += len(b.Votes)
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
	res.DurationS = ended.Sub(began).Seconds()
	res.TxPerS = float64(res.Txs) / res.DurationS
	res.VotesPerS = float64(res.Votes) / res.DurationS
	res.Latency = measure.Summarize(lat)
	return res, nil
}

// RandomBatch builds batch seq of state with n votes cast at castAt, each
// with a fresh random vote id and nullifier and a candidate in turn.
func RandomBatch(state string, seq uint64, candidates []string, n int, castAt time.Time) (ballot.Batch, error) {
	votes := make([]ballot.Vote, n)
	raw := make([]byte, 48*n)
	if _, err := rand.Read(raw); err != nil {
		return ballot.Batch{}, err
	}
	for i := range votes {
		r := raw[48*i:]
		votes[i] = ballot.Vote{
			ID: hex.EncodeToString(r[:16]), State: state, Nullifier: hex.EncodeToString(r[16:48]),
			Candidate: candidates[i%len(candidates)], CastAt: castAt.UnixMilli(),
		}
	}
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("ledgerload: %w", err)
	}
	return b, nil
}

// rollVoters hands out each state's roll voters in turn.
type rollVoters map[string][]string

func newRollVoters(roll []ballot.RollEntry) rollVoters {
	v := rollVoters{}
	for _, e := range roll {
		v[e.State] = append(v[e.State], e.Nullifier)
	}
	return v
}

// cast gives b's votes the state's next unused roll voters and rebuilds it.
func (v rollVoters) cast(b ballot.Batch) (ballot.Batch, error) {
	left := v[b.State]
	if len(left) < len(b.Votes) {
		return ballot.Batch{}, fmt.Errorf("ledgerload: the roll of %s has %d voters left, %d needed", b.State, len(left), len(b.Votes))
	}
	for i := range b.Votes {
		b.Votes[i].Nullifier = left[i]
	}
	v[b.State] = left[len(b.Votes):]
	return ballot.BuildBatch(b.State, b.Seq, b.Votes)
}
