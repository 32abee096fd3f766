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
	"github.com/votechain/votechain/internal/rundir/rundirtest"
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
// again with the settings it was brought up with: up's batchers cannot
// sign as another identity, which the refusal advised before. For make's
// system (.run in the project) that is make's targets, and the up keeps
// the settings too: it said plain "make up", dropping the ELECTION=,
// HOSTS= and GATEWAYS= the system had, whose record the wipe deletes.
func TestCompleteElectionNamesTheWipeForAnUnlistedBatcher(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	const settings = " and the settings it was brought up with (its election template, hosts, gateways, batchers and Redis mode: the wipe deletes those it recorded) for a new election"
	refusal := func(dir string, portBase int) error {
		e := &ballot.Election{ID: "e1", RollRoot: "root", Batchers: []string{"someone-else"}}
		plan := electionsetup.Plan{BatcherIdentity: "batcher", BatcherRemedy: batcherRemedy(dir, portBase),
			Roll: roll.Summary{Root: "root", Entries: 1, Roll: []ballot.RollEntry{{}}}}
		return completeElection(context.Background(), failingLedger{e: e}, plan, slog.New(slog.DiscardHandler))
	}
	const cannotChange = "its batchers cannot change: up runs its batchers with its network's own certificate, so wipe the system with "
	another := cannotChange + fmt.Sprintf("`bin/votechain --dir %s --port-base %d down --wipe` and bring it up again with `bin/votechain --dir %s --port-base %d up`", dir, planBase, dir, planBase) + settings
	if err := refusal(dir, planBase); err == nil || !strings.HasSuffix(err.Error(), another) || strings.Contains(err.Error(), "sign as one of them") {
		t.Errorf("%v; want the refusal to end %q, not advise signing as another identity", err, another)
	}
	rundirtest.Project(t)
	makes := cannotChange + "`make down WIPE=1` and bring it up again with `make up`" + settings
	if err := refusal(DefaultDir, 0); err == nil || !strings.HasSuffix(err.Error(), makes) {
		t.Errorf("make's system: %v; want the refusal to end %q", err, makes)
	}
}
