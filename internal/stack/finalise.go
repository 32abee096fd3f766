package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network/fabricclient"
)

// CloseSettle is how long after a close finalising waits: a gateway may
// accept votes against its cached record for up to its --election-max-age
// (5 s by default) after the ledger closed the election, and those votes
// must reach the ledger (rejected as cast after the close) before the
// results are frozen.
const CloseSettle = 5 * time.Second

// electionAdmin is what closing and finalising need of the ledger: a
// Commission admin's ballot client.
type electionAdmin interface {
	Election(ctx context.Context) (*ballot.Election, error)
	CloseElection(ctx context.Context) (*ballot.Election, error)
	FinaliseElection(ctx context.Context) (*ballot.Election, error)
}

// NotDrainedError refuses a finalise while accepted votes are not yet on
// the ledger: finalising would freeze results without them.
type NotDrainedError struct {
	Pending map[string]int64 // by state, states with none left out
}

// Remaining is the number of accepted votes not yet on the ledger.
func (e *NotDrainedError) Remaining() int64 {
	var n int64
	for _, c := range e.Pending {
		n += c
	}
	return n
}

func (e *NotDrainedError) Error() string {
	states := make([]string, 0, len(e.Pending))
	for s := range e.Pending {
		states = append(states, s)
	}
	slices.Sort(states)
	for i, s := range states {
		states[i] = fmt.Sprintf("%s %d", s, e.Pending[s])
	}
	return fmt.Sprintf("refusing to finalise: %d accepted votes are not yet on the ledger (%s); keep the batchers running until they are committed (`votechain status`, the VotesNotCommitted alert) and run finalise again",
		e.Remaining(), strings.Join(states, ", "))
}

// CloseElection closes the election on the ledger now, as the Commission's admin.
func (s *Stack) CloseElection(ctx context.Context) (*ballot.Election, error) {
	var out *ballot.Election
	err := s.asAdmin(func(ledger *fabricclient.Ballot) (err error) {
		out, err = ledger.CloseElection(ctx)
		return err
	})
	return out, err
}

// FinaliseElection finalises the closed election on the ledger, as the
// Commission's admin, once every accepted vote is on the ledger: it refuses
// with a *NotDrainedError while Redis holds pending votes, and while the
// close is younger than CloseSettle.
func (s *Stack) FinaliseElection(ctx context.Context) (*ballot.Election, error) {
	opts, err := s.RedisOptions(redisserver.UserAdmin) // the operator's command
	if err != nil {
		return nil, err
	}
	rdb := redisserver.NewClient(opts)
	defer rdb.Close()
	var out *ballot.Election
	err = s.asAdmin(func(ledger *fabricclient.Ballot) (err error) {
		accounted := func(ctx context.Context, e *ballot.Election) error { return logAccounted(ctx, e, ledger, rdb, s.log) }
		out, err = finalise(ctx, ledger, rdb, time.Now(), accounted)
		return err
	})
	return out, err
}

// logAccounted requires every state's intake log to be fully accounted
// for: its last anchored head covers every entry in Redis (the gateway
// anchors every second), and every entry up to it is on the ledger,
// counted or rejected (explorer/logmonitor with no deadline: an entry not
// on the ledger is MISSING).
func logAccounted(ctx context.Context, e *ballot.Election, ledger *fabricclient.Ballot, rdb redis.UniversalClient, log *slog.Logger) error {
	for _, st := range e.States {
		n, err := votequeue.LogLen(ctx, rdb, st)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		h, err := ledger.LogHead(ctx, st)
		if err != nil && !errors.Is(err, ballot.ErrNotFound) {
			return err
		}
		if h.Head.Size < n {
			return fmt.Errorf("refusing to finalise: the %s intake log holds %d accepted votes but its last head anchored on the ledger only %d; keep the gateway running until it anchors the rest (every second) and run finalise again", st, n, h.Head.Size)
		}
	}
	m := &logmonitor.Monitor{Log: intakelog.New(rdb, nil, intakelog.Config{}, log), Ledger: ledger}
	rep, err := m.Check(ctx, nil)
	if err != nil {
		return fmt.Errorf("refusing to finalise: the intake log cannot be accounted for: %w", err)
	}
	if missing := rep.Missing(); len(missing) > 0 {
		ids := make([]string, 0, 5)
		for _, m := range missing[:min(5, len(missing))] {
			ids = append(ids, m.State+"/"+m.Vote.ID)
		}
		return fmt.Errorf("refusing to finalise: %d votes accepted under anchored heads of the intake log are not on the ledger (MISSING: %s…); `verify --log` lists them", len(missing), strings.Join(ids, ", "))
	}
	return nil
}

// asAdmin runs f with the Commission admin's ballot client.
func (s *Stack) asAdmin(f func(*fabricclient.Ballot) error) error {
	admin, err := s.dialAdmin()
	if err != nil {
		return err
	}
	defer admin.Close()
	return f(admin.Ballot())
}

// dialAdmin connects to the Commission's peer as its admin.
func (s *Stack) dialAdmin() (*fabricclient.Conn, error) {
	profile, err := s.net.Profile()
	if err != nil {
		return nil, err
	}
	return fabricclient.Dial(profile, "Commission", fabricclient.WithUser("Admin"))
}

// finalise is the finalise guard: the election closed at least CloseSettle
// before now, no accepted vote of any of its states pending in Redis, and
// the intake log accounted for (accounted).
func finalise(ctx context.Context, ledger electionAdmin, rdb redis.Cmdable, now time.Time, accounted func(context.Context, *ballot.Election) error) (*ballot.Election, error) {
	e, err := ledger.Election(ctx)
	if err != nil {
		return nil, err
	}
	if e.Status != ballot.StatusClosed {
		return nil, fmt.Errorf("election %s is %s, not closed: close it first (`votechain close`)", e.ID, e.Status)
	}
	if wait := e.ClosedAt.Add(CloseSettle).Sub(now); wait > 0 {
		return nil, fmt.Errorf("election %s closed %s ago; gateways may accept votes for %s after a close: run finalise again in %s",
			e.ID, now.Sub(e.ClosedAt).Round(time.Millisecond), CloseSettle, wait.Round(time.Second)+time.Second)
	}
	pending, err := votequeue.PendingCounts(ctx, rdb, e.States)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		return nil, &NotDrainedError{Pending: pending}
	}
	if err := accounted(ctx, e); err != nil {
		return nil, err
	}
	return ledger.FinaliseElection(ctx)
}
