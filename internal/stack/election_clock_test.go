package stack

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/electionsetup"
)

// failingLedger holds election e and fails LoadRoll (the roll's seal) with
// sealErr and RegisterLogKeys with keysErr.
type failingLedger struct {
	e                *ballot.Election
	sealErr, keysErr error
}

func (l failingLedger) Election(context.Context) (*ballot.Election, error) { return l.e, nil }
func (l failingLedger) SetupElection(context.Context, ballot.Election) error {
	return errors.New("set up again")
}
func (l failingLedger) LoadRoll(context.Context, []ballot.RollEntry, int, electionsetup.Progress) (ballot.RollSeal, error) {
	return ballot.RollSeal{}, l.sealErr
}
func (l failingLedger) RegisterLogKeys(context.Context, []ballot.LogKey) (ballot.LogKeys, error) {
	return ballot.LogKeys{}, l.keysErr
}

// TestCompleteElectionFailsForTheClock: for an election already on the
// ledger, a refusal of this machine's clock (ballot.ErrClockSkew) of the
// roll's seal or of the log key's registration fails up, wrapping the
// refusal (votechain explains it); another failure of either is a warning
// and up goes on (an earlier version's election runs without them).
func TestCompleteElectionFailsForTheClock(t *testing.T) {
	refused := fmt.Errorf("%w: request unauthorized due to incorrect timestamp", ballot.ErrClockSkew)
	other := errors.New("endorsement failure")
	e := &ballot.Election{ID: "e1", RollRoot: "root", Batchers: []string{"batcher"}}
	plan := electionsetup.Plan{BatcherIdentity: "batcher",
		Roll:    roll.Summary{Root: "root", Entries: 1, Roll: []ballot.RollEntry{{}}},
		LogKeys: []ed25519.PublicKey{make(ed25519.PublicKey, ed25519.PublicKeySize)}}
	for _, tc := range []struct {
		name             string
		sealErr, keysErr error
		fails            bool
		warnings         int
	}{
		{"seal refused for the clock", refused, nil, true, 0},
		{"log key refused for the clock", other, refused, true, 1},
		{"both fail otherwise", other, other, false, 2},
	} {
		var logs bytes.Buffer
		err := completeElection(context.Background(), failingLedger{e, tc.sealErr, tc.keysErr}, plan, slog.New(slog.NewTextHandler(&logs, nil)))
		if tc.fails != (err != nil) || tc.fails && !errors.Is(err, ballot.ErrClockSkew) {
			t.Errorf("%s: %v; want a failure wrapping ErrClockSkew: %v", tc.name, err, tc.fails)
		}
		if got := strings.Count(logs.String(), "level=WARN"); got != tc.warnings {
			t.Errorf("%s: %d warnings, want %d:\n%s", tc.name, got, tc.warnings, &logs)
		}
	}
}

// TestCompleteElectionNamesTheWipeForAnUnlistedBatcher: an election on the
// ledger whose batchers do not list up's batcher identity is refused with
// up's fix, the wipe of this system (its folder and port base) and up
// again: up's batchers cannot sign as another identity, which the refusal
// advised before.
func TestCompleteElectionNamesTheWipeForAnUnlistedBatcher(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	e := &ballot.Election{ID: "e1", RollRoot: "root", Batchers: []string{"someone-else"}}
	plan := electionsetup.Plan{BatcherIdentity: "batcher", BatcherRemedy: batcherRemedy(dir, 43000),
		Roll: roll.Summary{Root: "root", Entries: 1, Roll: []ballot.RollEntry{{}}}}
	err := completeElection(context.Background(), failingLedger{e: e}, plan, slog.New(slog.DiscardHandler))
	wipe, up := Command(dir, 43000, "down", "--wipe"), Command(dir, 43000, "up")
	if err == nil || !strings.Contains(err.Error(), `its batchers cannot change: up runs its batchers with its network's own certificate, so wipe the system with `+wipe+` and bring it up again with `+up) {
		t.Fatalf("%v; want the refusal to name %s and %s", err, wipe, up)
	}
	if strings.Contains(err.Error(), "sign as one of them") || !strings.Contains(wipe, "--dir "+dir) || !strings.Contains(wipe, "--port-base 43000") {
		t.Errorf("%v; want this system's wipe (%s), not advice to sign as another identity", err, wipe)
	}
}
