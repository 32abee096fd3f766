package stack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
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
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	var out *ballot.Election
	err = s.asAdmin(func(ledger *fabricclient.Ballot) (err error) {
		out, err = finalise(ctx, ledger, rdb, time.Now())
		return err
	})
	return out, err
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
// before now, and no accepted vote of any of its states pending in Redis.
func finalise(ctx context.Context, ledger electionAdmin, rdb redis.Cmdable, now time.Time) (*ballot.Election, error) {
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
	return ledger.FinaliseElection(ctx)
}
