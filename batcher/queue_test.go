package batcher

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// Helpers shared by this package's tests and its external integration
// tests (exported here, so only the test binary sees them).

var (
	TestStates     = []string{"CA", "TX", "NY", "FL", "WA"}
	TestCandidates = []string{"alice", "bob", "carol"}
)

// TestContest is the contest of the test votes: the one contest of
// nettest.Election's record.
const TestContest = "race"

// EnqueueVotes puts the votes of voters first..first+n-1 on their states'
// streams (TestStates in turn) with their claims, as the gateway's dedup
// script does, and returns them. The votes of one call arrive at once (one
// MULTI/EXEC, as each of the gateway's script calls): a lane's blocked read
// gets all of them, or as many as it asked for, never the first few.
func EnqueueVotes(t testing.TB, rdb *redis.Client, first, n int, secret string) []ballot.Vote {
	return enqueue(t, rdb, first, n, secret, TestStates, func(i int) string { return TestStates[i%len(TestStates)] })
}

// EnqueueWeighted is EnqueueVotes over states, each getting its weight's
// share of the votes (weights sum to 1): voter k's state is drawn from a
// low-discrepancy sequence, so any run of voters is spread by weight.
func EnqueueWeighted(t testing.TB, rdb *redis.Client, first, n int, secret string, states []string, weights []float64) []ballot.Vote {
	return enqueue(t, rdb, first, n, secret, states, func(i int) string {
		x := math.Mod(float64(first+i)*0.6180339887498949, 1)
		for s, w := range weights {
			if x -= w; x < 0 {
				return states[s]
			}
		}
		return states[len(states)-1]
	})
}

func enqueue(t testing.TB, rdb *redis.Client, first, n int, secret string, states []string, stateOf func(i int) string) []ballot.Vote {
	ctx := context.Background()
	votes := make([]ballot.Vote, n)
	pipe := rdb.TxPipeline()
	for i := range votes {
		id, err := ballot.NewVoteID()
		if err != nil {
			t.Error(err)
			return nil
		}
		null := ballot.NullifierOf(ballot.VoterKey([]byte(secret), "batcher-test", fmt.Sprint("voter-", first+i), "cred"), TestContest)
		votes[i] = ballot.Vote{ID: id, State: stateOf(i), Contest: TestContest, Nullifier: ballot.HashHex(null),
			Choice: TestCandidates[i%len(TestCandidates)], CastAt: time.Now().UnixMilli()}
		values, err := entryForm(i, votes[i])
		if err != nil {
			t.Error(err)
			return nil
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: votequeue.StreamKey(votes[i].State), Values: values})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Error(err)
	}
	return votes
}

// entryForm is vote i's stream entry in one of the forms gateways wrote,
// in turn, as a stream holds them across a rolling upgrade: mostly the
// one-field form of today's gateways (votequeue.Entry), every third the
// three-field form ("v" "3", "state", "e") and every seventh the field form
// (votequeue.Fields).
func entryForm(i int, v ballot.Vote) (any, error) {
	switch {
	case i%7 == 6:
		return votequeue.Fields(v), nil
	case i%3 == 2:
		e, err := votequeue.AppendLogEntry(nil, v)
		return []string{votequeue.FieldVersion, votequeue.Version, votequeue.FieldState, v.State, votequeue.FieldEntry, string(e)}, err
	}
	return votequeue.Entry(v)
}

// WaitDrained waits until every stream of TestStates is empty (every vote acknowledged).
func WaitDrained(t testing.TB, rdb *redis.Client, within time.Duration) {
	t.Helper()
	WaitStatesDrained(t, rdb, TestStates, within)
}

// WaitStatesDrained waits until the streams of states are empty.
func WaitStatesDrained(t testing.TB, rdb *redis.Client, states []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := int64(0)
		for _, s := range states {
			n, err := rdb.XLen(context.Background(), votequeue.StreamKey(s)).Result()
			if err != nil {
				t.Fatal(err)
			}
			left += n
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d votes still queued after %s", left, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CommittedBatches is how many batches the batcher registered on reg committed.
func CommittedBatches(t testing.TB, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "batcher_batch_votes" {
			return float64(mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatal("no batcher_batch_votes metric")
	return 0
}

// metricValue reads a gauge's or counter's value.
func metricValue(t testing.TB, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// ReadEagerly makes b's lanes read their streams again at once after every
// read, as before reads were paced to the ticks (cutPolicy.eager), for
// benchmarks that compare the two.
func ReadEagerly(b *Batcher) { b.cut.eager = true }
