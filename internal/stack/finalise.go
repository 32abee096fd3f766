package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/logprogress"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network/fabricclient"
)

// GatewayElectionMaxAge is the --election-max-age the stack gives its
// gateways on their command line: for that long after the ledger closed
// the election a gateway may still accept votes against its cached
// record. A gateway raises it to its --election-ttl when that is larger,
// so Up refuses a GATEWAY_ELECTION_TTL above it (checkGatewayEnv).
const GatewayElectionMaxAge = 5 * time.Second

// CloseSettle is how long after a close finalising waits: the gateways'
// GatewayElectionMaxAge, during which they may accept votes, which must
// reach the ledger (rejected as cast after the close) before the results
// are frozen.
const CloseSettle = GatewayElectionMaxAge

// checkGatewayEnv refuses an environment that would let the gateways Up
// starts accept votes longer after a close than CloseSettle: a
// GATEWAY_ELECTION_TTL above GatewayElectionMaxAge (the gateways' max age
// rises to it), or a GATEWAY_ELECTION_MAX_AGE other than it (the command
// line's wins, so it would change nothing).
func checkGatewayEnv() error {
	maxAge, ttl := cli.EnvName("GATEWAY", "election-max-age"), cli.EnvName("GATEWAY", "election-ttl")
	if v, ok := os.LookupEnv(maxAge); ok {
		if d, err := time.ParseDuration(v); err != nil || d != GatewayElectionMaxAge {
			return fmt.Errorf("%s=%s: the system's gateways take --election-max-age %s on their command line, the time finalise waits after a close; unset it", maxAge, v, GatewayElectionMaxAge)
		}
	}
	if v, ok := os.LookupEnv(ttl); ok {
		if d, err := time.ParseDuration(v); err == nil && d > GatewayElectionMaxAge {
			return fmt.Errorf("%s=%s: above the gateways' --election-max-age %s it would let them accept votes for %s after a close, longer than finalise waits; give at most %s", ttl, v, GatewayElectionMaxAge, d, GatewayElectionMaxAge)
		}
	}
	return nil
}

// electionAdmin is what closing and finalising need of the ledger: a
// Commission admin's ballot client.
type electionAdmin interface {
	Election(ctx context.Context) (*ballot.Election, error)
	CloseElection(ctx context.Context) (*ballot.Election, error)
	FinaliseElection(ctx context.Context, judged ballot.FinaliseInput) (*ballot.Election, error)
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
	return fmt.Sprintf("refusing to finalise: %d accepted votes are not yet on the ledger (%s); keep the batchers running until they are committed (`votechain status`, the VotesNotCommitted alert) and run finalise again",
		e.Remaining(), byState(e.Pending))
}

// byState lists counts by state, "CA 2, TX 1", the states in order.
func byState[N int | int64](counts map[string]N) string {
	states := slices.Sorted(maps.Keys(counts))
	for i, s := range states {
		states[i] = fmt.Sprintf("%s %d", s, counts[s])
	}
	return strings.Join(states, ", ")
}

// FinaliseOptions are the operator's overrides of finalise's checks.
type FinaliseOptions struct {
	// AcceptUnlogged finalises although the ledger counts votes that no
	// intake log holds (UnloggedVotes): they stay counted in the frozen
	// results, and FinaliseElection returns and logs them.
	AcceptUnlogged bool
	// Progress is where the check of the intake logs against the ledger,
	// finalise's longest step, draws a moving count of the log entries and
	// ledger votes it has read (logprogress.Show, as verify --log draws
	// it); nil draws nothing.
	Progress io.Writer
}

// UnloggedVotes are the states whose intake log lacks votes the ledger
// counts (logmonitor.StateReport.Unlogged > 0, judged as in a finalised
// election), in the election's order: votes no gateway accepted, put on
// the ledger past the gateways (a batcher's or another ledger client's
// own).
type UnloggedVotes []logmonitor.StateReport

// Total is the number of unlogged votes.
func (u UnloggedVotes) Total() int {
	n := 0
	for _, s := range u {
		n += s.Unlogged
	}
	return n
}

// unloggedShown is how many of a state's unlogged votes, the earliest
// cast, a finalise message lists (the monitor's report, which `verify
// --log` prints, lists up to 20).
const unloggedShown = 5

// ByState says how many there are by state: "CA 2, TX 1".
func (u UnloggedVotes) ByState() string {
	counts := map[string]int{}
	for _, s := range u {
		counts[s.State] = s.Unlogged
	}
	return byState(counts)
}

// String says how many there are, by state, and lists the earliest cast
// of each state, a line each: "3 votes that no intake log holds (CA 2,
// TX 1); the earliest cast:\n  UNLOGGED batch CA/4, vote 7, cast …".
func (u UnloggedVotes) String() string {
	var b strings.Builder
	for _, s := range u {
		for _, v := range s.UnloggedVotes[:min(unloggedShown, len(s.UnloggedVotes))] {
			b.WriteString("\n  UNLOGGED " + v.Where(s.State))
		}
	}
	return fmt.Sprintf("%d votes that no intake log holds (%s); the earliest cast:%s", u.Total(), u.ByState(), b.String())
}

// UnloggedError refuses a finalise while the ledger counts votes that no
// intake log holds: finalising would freeze them into the results.
type UnloggedError struct {
	Votes UnloggedVotes
}

func (e *UnloggedError) Error() string {
	return "refusing to finalise: the ledger counts " + e.Votes.String() + "\n" +
		"They are UNLOGGED: no gateway accepted them; they were committed past the gateways (a batcher's or another ledger client's own batch). " +
		"Finalising would freeze them into the results, and the ledger cannot remove them. Find where they came from " +
		"(the batches above: a batch's transaction is signed by the identity that committed it) and stop that client; " +
		"then, to finalise with them counted, run `votechain finalise --accept-unlogged`"
}

// CloseElection closes the election on the ledger now, as the Commission's admin.
func (s *Stack) CloseElection(ctx context.Context) (*ballot.Election, error) {
	var out *ballot.Election
	err := s.asAdmin(ctx, func(ledger *fabricclient.Ballot) (err error) {
		out, err = ledger.CloseElection(ctx)
		return err
	})
	return out, err
}

// FinaliseElection finalises the closed election on the ledger, as the
// Commission's admin, once every accepted vote is on the ledger and every
// counted vote in an intake log: it refuses with a *NotDrainedError while
// Redis holds pending votes, while the close is younger than CloseSettle,
// while an intake log entry is MISSING from the ledger, and with an
// *UnloggedError while the ledger counts votes that no intake log holds,
// unless opts.AcceptUnlogged. The finalise transaction carries the batch
// totals that check judged, and fails with an error wrapping
// ballot.ErrLedgerChanged if a batch was committed since: a batch no check
// saw is never finalised, and finalising again checks it. It returns the
// finalised record and the unlogged votes it finalised with (logged at
// warn level).
func (s *Stack) FinaliseElection(ctx context.Context, opts FinaliseOptions) (*ballot.Election, UnloggedVotes, error) {
	ropts, err := s.RedisOptions(redisserver.UserAdmin) // the operator's command
	if err != nil {
		return nil, nil, err
	}
	rdb := redisserver.NewClient(ropts)
	defer rdb.Close()
	var out *ballot.Election
	var unlogged UnloggedVotes
	err = s.asAdmin(ctx, func(ledger *fabricclient.Ballot) (err error) {
		accounted := func(ctx context.Context, e *ballot.Election) (judged ballot.FinaliseInput, err error) {
			unlogged, judged, err = logAccounted(ctx, e, ledger, rdb, opts, s.log)
			return judged, err
		}
		out, err = finalise(ctx, ledger, rdb, time.Now(), accounted)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(unlogged) > 0 {
		s.log.Warn("finalised with votes that no intake log holds, counted (--accept-unlogged)", "election", out.ID, "unlogged", unlogged.Total(), "by_state", unlogged.ByState())
	}
	return out, unlogged, nil
}

// logAccounted requires every state's intake log to be fully accounted
// for: its last anchored head covers every entry in Redis (the gateway
// anchors every second, a size whose publication's answer was lost within
// about a minute), and then, by explorer/logmonitor judging as in a
// finalised election (the log is complete: the gateways stopped accepting
// and their heads cover it), every entry up to it is on the ledger, counted
// or rejected, and every vote the ledger counts is in it (logJudged). With
// the unlogged votes it returns the batch totals the monitor's report is
// of (judgedBatches): the finalise transaction's argument.
func logAccounted(ctx context.Context, e *ballot.Election, ledger logmonitor.Ledger, rdb redis.UniversalClient, opts FinaliseOptions, log *slog.Logger) (UnloggedVotes, ballot.FinaliseInput, error) {
	var none ballot.FinaliseInput
	for _, st := range e.States {
		n, err := votequeue.LogLen(ctx, rdb, st)
		if err != nil {
			return nil, none, err
		}
		if n == 0 {
			continue
		}
		h, err := ledger.LogHead(ctx, st)
		if err != nil && !errors.Is(err, ballot.ErrNotFound) {
			return nil, none, err
		}
		if h.Head.Size < n {
			return nil, none, fmt.Errorf("refusing to finalise: the %s intake log holds %d accepted votes but its last head anchored on the ledger only %d; keep the gateway running until it anchors the rest, within about a minute (a head left by a lost answer or a stopped gateway waits for the take-over, 41 s), and run finalise again", st, n, h.Head.Size)
		}
	}
	m := &logmonitor.Monitor{Log: intakelog.New(rdb, nil, intakelog.Config{}, log), Ledger: ledger, AsFinalised: true}
	bar := logprogress.Show(opts.Progress, m)
	rep, err := m.Check(ctx, nil)
	bar.Finish()
	if err != nil {
		return nil, none, fmt.Errorf("refusing to finalise: the intake log cannot be accounted for: %w", err)
	}
	unlogged, err := logJudged(rep, opts)
	if err != nil {
		return nil, none, err
	}
	return unlogged, judgedBatches(rep), nil
}

// judgedBatches are the batch totals of each state the monitor's report
// is of: FinaliseElection's argument, so that the ledger finalises exactly
// the batches the report judged. Taken from the report, never read again
// from the ledger: a batch committed after the check must make the
// finalise fail, not join it unchecked.
func judgedBatches(rep logmonitor.Report) ballot.FinaliseInput {
	in := ballot.FinaliseInput{Batched: make(map[string]ballot.BatchTotals, len(rep.States))}
	for _, s := range rep.States {
		in.Batched[s.State] = s.Batched
	}
	return in
}

// logJudged is finalise's verdict on the monitor's report: an error for
// any MISSING entry; an *UnloggedError for any unlogged vote unless
// opts.AcceptUnlogged, which returns them instead.
func logJudged(rep logmonitor.Report, opts FinaliseOptions) (UnloggedVotes, error) {
	if missing := rep.Missing(); len(missing) > 0 {
		ids := make([]string, 0, 5)
		for _, m := range missing[:min(5, len(missing))] {
			ids = append(ids, m.State+"/"+m.Vote.ID)
		}
		return nil, fmt.Errorf("refusing to finalise: %d votes accepted under anchored heads of the intake log are not on the ledger (MISSING: %s…); `verify --log` lists them", len(missing), strings.Join(ids, ", "))
	}
	var unlogged UnloggedVotes
	for _, s := range rep.States {
		if s.Unlogged > 0 {
			unlogged = append(unlogged, s)
		}
	}
	if len(unlogged) > 0 && !opts.AcceptUnlogged {
		return nil, &UnloggedError{Votes: unlogged}
	}
	return unlogged, nil
}

// asAdmin runs f with the Commission admin's ballot client, dialled
// within ctx.
func (s *Stack) asAdmin(ctx context.Context, f func(*fabricclient.Ballot) error) error {
	admin, err := s.dialAdmin(ctx)
	if err != nil {
		return err
	}
	defer admin.Close()
	return f(admin.Ballot())
}

// dialAdmin connects to the Commission's peer as its admin, ctx bounding
// the dial (fabricclient.Dial), not the Conn.
func (s *Stack) dialAdmin(ctx context.Context) (*fabricclient.Conn, error) {
	profile, err := s.net.Profile()
	if err != nil {
		return nil, err
	}
	return fabricclient.Dial(ctx, profile, "Commission", fabricclient.WithUser("Admin"))
}

// finalise is the finalise guard: the election closed at least CloseSettle
// before now, no accepted vote of any of its states pending in Redis, and
// the intake log accounted for (accounted, which returns the batch totals
// it judged); the ledger's finalise then gets exactly those totals.
func finalise(ctx context.Context, ledger electionAdmin, rdb redis.Cmdable, now time.Time, accounted func(context.Context, *ballot.Election) (ballot.FinaliseInput, error)) (*ballot.Election, error) {
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
	judged, err := accounted(ctx, e)
	if err != nil {
		return nil, err
	}
	return ledger.FinaliseElection(ctx, judged)
}
