package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
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

// TestFinaliseWithNoSystem: finalise in a run folder no bring-up wrote
// says the system was never brought up and that `make up` starts it, not
// only that a Redis password file is missing.
func TestFinaliseWithNoSystem(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: 23200, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinaliseElection(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the system in "+dir+" was never brought up; `make up` starts it") {
		t.Errorf("finalise with no system: %v; want it to say to run make up", err)
	}
}
