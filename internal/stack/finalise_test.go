package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
)

// fakeAdmin is a ledger holding one election record.
type fakeAdmin struct {
	e         ballot.Election
	finalised int
}

func (f *fakeAdmin) Election(context.Context) (*ballot.Election, error) { e := f.e; return &e, nil }

func (f *fakeAdmin) CloseElection(context.Context) (*ballot.Election, error) {
	return nil, errors.New("not used")
}

func (f *fakeAdmin) FinaliseElection(context.Context) (*ballot.Election, error) {
	f.finalised++
	f.e.Status = ballot.StatusFinalised
	return f.Election(context.Background())
}

func TestFinaliseRefusesUntilDrained(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	closedAt := time.Now()
	ledger := &fakeAdmin{e: ballot.Election{ID: "e1", States: []string{"CA", "NY", "TX"}, Status: ballot.StatusConfigured}}
	var missing error // what the intake log's check answers
	accounted := func(context.Context, *ballot.Election) error { return missing }

	if _, err := finalise(ctx, ledger, rdb, closedAt, accounted); err == nil || !strings.Contains(err.Error(), "votechain close") {
		t.Fatalf("finalise while open: %v; want an error naming votechain close", err)
	}
	ledger.e.Status, ledger.e.ClosedAt = ballot.StatusClosed, closedAt
	if _, err := finalise(ctx, ledger, rdb, closedAt.Add(time.Second), accounted); err == nil || !strings.Contains(err.Error(), "run finalise again in") {
		t.Fatalf("finalise 1 s after the close: %v; want to be told to wait", err)
	}

	later := closedAt.Add(CloseSettle)
	queue := func(state string) string {
		return rdb.XAdd(ctx, &redis.XAddArgs{Stream: votequeue.StreamKey(state), Values: []string{"v", "3"}}).Val()
	}
	ca1, ca2 := queue("CA"), queue("CA")
	queue("TX")
	_, err := finalise(ctx, ledger, rdb, later, accounted)
	var nd *NotDrainedError
	if !errors.As(err, &nd) || nd.Remaining() != 3 || !strings.Contains(err.Error(), "3 accepted votes are not yet on the ledger (CA 2, TX 1)") {
		t.Fatalf("finalise with 3 pending votes: %v; want NotDrainedError naming 3 (CA 2, TX 1)", err)
	}
	rdb.XDel(ctx, votequeue.StreamKey("CA"), ca1, ca2)
	if _, err := finalise(ctx, ledger, rdb, later, accounted); !errors.As(err, &nd) || nd.Remaining() != 1 {
		t.Fatalf("finalise with 1 pending vote: %v", err)
	}
	if ledger.finalised != 0 {
		t.Fatal("the ledger was asked to finalise before the queue drained")
	}
	rdb.Del(ctx, votequeue.StreamKey("TX"))
	missing = errors.New("refusing to finalise: 2 votes accepted under anchored heads of the intake log are not on the ledger")
	if _, err := finalise(ctx, ledger, rdb, later, accounted); err != missing || ledger.finalised != 0 {
		t.Fatalf("finalise with the log not accounted for: %v, %d ledger calls", err, ledger.finalised)
	}
	missing = nil
	e, err := finalise(ctx, ledger, rdb, later, accounted)
	if err != nil || e.Status != ballot.StatusFinalised || ledger.finalised != 1 {
		t.Fatalf("finalise once drained: %+v, %v, %d ledger calls", e, err, ledger.finalised)
	}
}

// TestLogJudgedRefusesUnlogged: finalise refuses while the monitor finds
// votes the ledger counts that no intake log holds, saying how many per
// state, listing the earliest few of each by batch and index, and naming
// the override; with it, it returns them to be reported. A MISSING entry
// refuses whatever the override.
func TestLogJudgedRefusesUnlogged(t *testing.T) {
	unlogged := func(seq uint64, n int) []logmonitor.UnloggedVote {
		var out []logmonitor.UnloggedVote
		for i := range n {
			out = append(out, logmonitor.UnloggedVote{Seq: seq, Index: i, CastAt: 1_764_928_800_000 + int64(i)})
		}
		return out
	}
	rep := logmonitor.Report{Election: "e1", States: []logmonitor.StateReport{
		{State: "CA", Unlogged: 2, UnloggedVotes: unlogged(4, 2)},
		{State: "NY"},
		{State: "TX", Unlogged: 30, UnloggedVotes: unlogged(9, 20)}, // the monitor lists 20
	}}
	if u, err := logJudged(logmonitor.Report{Election: "e1", States: []logmonitor.StateReport{{State: "NY"}}}, FinaliseOptions{}); err != nil || u != nil {
		t.Fatalf("no unlogged votes: %v, %v; want none and no error", u, err)
	}

	_, err := logJudged(rep, FinaliseOptions{})
	var ue *UnloggedError
	if !errors.As(err, &ue) || ue.Votes.Total() != 32 {
		t.Fatalf("32 unlogged votes: %v; want an UnloggedError of 32", err)
	}
	// The counts, then the 5 cast earliest of each state, then the fix.
	head, fix, _ := strings.Cut(err.Error(), "\nThey are UNLOGGED")
	const want = `refusing to finalise: the ledger counts 32 votes that no intake log holds (CA 2, TX 30); the earliest cast:
  UNLOGGED batch CA/4, vote 0, cast 2025-12-05T10:00:00Z
  UNLOGGED batch CA/4, vote 1, cast 2025-12-05T10:00:00Z
  UNLOGGED batch TX/9, vote 0, cast 2025-12-05T10:00:00Z
  UNLOGGED batch TX/9, vote 1, cast 2025-12-05T10:00:00Z
  UNLOGGED batch TX/9, vote 2, cast 2025-12-05T10:00:00Z
  UNLOGGED batch TX/9, vote 3, cast 2025-12-05T10:00:00Z
  UNLOGGED batch TX/9, vote 4, cast 2025-12-05T10:00:00Z`
	if head != want || !strings.HasSuffix(fix, "run `votechain finalise --accept-unlogged`") {
		t.Errorf("the refusal:\n%s\nwant it to begin\n%s\nand end naming --accept-unlogged", err, want)
	}

	u, err := logJudged(rep, FinaliseOptions{AcceptUnlogged: true})
	if err != nil || u.Total() != 32 || len(u) != 2 || u.ByState() != "CA 2, TX 30" {
		t.Fatalf("--accept-unlogged: %v, %v; want CA and TX's 32 returned", u, err)
	}

	rep.States[1].Entries = []logmonitor.Entry{{State: "NY", Index: 3, Vote: ballot.Vote{ID: "v3"}, Standing: ballot.StandingMissing}}
	if _, err := logJudged(rep, FinaliseOptions{AcceptUnlogged: true}); err == nil || !strings.Contains(err.Error(), "MISSING: NY/v3") {
		t.Fatalf("a MISSING entry with --accept-unlogged: %v; want refused naming it", err)
	}
}

// TestFinaliseWithNoSystem: finalise in a run folder no bring-up wrote
// says the system was never brought up and that `make up` starts it, not
// only that a Redis password file is missing.
func TestFinaliseWithNoSystem(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: 23200, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.FinaliseElection(context.Background(), FinaliseOptions{})
	if err == nil || !strings.Contains(err.Error(), "the system in "+dir+" was never brought up; `make up` starts it") {
		t.Errorf("finalise with no system: %v; want it to say to run make up", err)
	}
}
