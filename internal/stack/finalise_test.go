package stack

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/logprogress"
	"github.com/votechain/votechain/internal/redistest"
)

// fakeAdmin is a ledger holding one election record, its states' batches
// and the intake log heads anchored (none unless heads says), signed by
// keys: what finalise and its intake log monitor read of it.
type fakeAdmin struct {
	e         ballot.Election
	batches   map[string][]ballot.Batch // by state, in sequence order
	heads     map[string]ballot.AnchoredHead
	keys      ballot.LogKeys
	finalised int
	judged    []ballot.FinaliseInput // the arguments of every FinaliseElection
	// listed, if set, is called after each listing of a state's batches.
	listed func(state string)
}

func (f *fakeAdmin) Election(context.Context) (*ballot.Election, error) { e := f.e; return &e, nil }

func (f *fakeAdmin) CloseElection(context.Context) (*ballot.Election, error) {
	return nil, errors.New("not used")
}

// FinaliseElection finalises by the chaincode's rule: the batch totals
// judged must be the ledger's.
func (f *fakeAdmin) FinaliseElection(ctx context.Context, judged ballot.FinaliseInput) (*ballot.Election, error) {
	f.judged = append(f.judged, judged)
	err := judged.Check(&f.e, func(st string) (ballot.BatchTotals, error) {
		var t ballot.BatchTotals
		for _, b := range f.batches[st] {
			t.Add(record(b))
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	f.finalised++
	f.e.Status = ballot.StatusFinalised
	return f.Election(ctx)
}

// commit puts a batch of n votes of state on the ledger, every one counted.
func (f *fakeAdmin) commit(t *testing.T, state string, n int) {
	t.Helper()
	var votes []ballot.Vote
	for range n {
		id, _ := ballot.NewVoteID()
		nullifier := ballot.NullifierOf(sha256.Sum256([]byte(id)), "president")
		votes = append(votes, ballot.Vote{ID: id, State: state, Contest: "president", Nullifier: ballot.HashHex(nullifier), Choice: "alice", CastAt: f.e.OpensAt.UnixMilli()})
	}
	b, err := ballot.BuildBatch(state, uint64(len(f.batches[state])+1), votes)
	if err != nil {
		t.Fatal(err)
	}
	if f.batches == nil {
		f.batches = map[string][]ballot.Batch{}
	}
	f.batches[state] = append(f.batches[state], b)
}

// record is the ledger's record of batch b, every vote counted.
func record(b ballot.Batch) ballot.BatchRecord {
	return ballot.BatchRecord{State: b.State, Seq: b.Seq, Root: b.Root, Votes: len(b.Votes), Counted: len(b.Votes), Tallies: b.Tallies,
		Rejected: []int{}, Reasons: []string{}, TxID: b.ID()}
}

func (f *fakeAdmin) LogKeys(context.Context) (ballot.LogKeys, error) { return f.keys, nil }

func (f *fakeAdmin) LogHead(_ context.Context, state string) (ballot.AnchoredHead, error) {
	if h, ok := f.heads[state]; ok {
		return h, nil
	}
	return ballot.AnchoredHead{}, fmt.Errorf("%w: no %s head", ballot.ErrNotFound, state)
}

// BatchesFrom lists every batch of state, in one page.
func (f *fakeAdmin) BatchesFrom(_ context.Context, state, _ string, fn func(ballot.BatchRecord) error) (string, error) {
	for _, b := range f.batches[state] {
		if err := fn(record(b)); err != nil {
			return "", err
		}
	}
	if f.listed != nil {
		f.listed(state)
	}
	return "", nil
}

func (f *fakeAdmin) CommittedBatch(_ context.Context, txID, state string, seq uint64) (ballot.Batch, error) {
	if bs := f.batches[state]; seq >= 1 && seq <= uint64(len(bs)) && bs[seq-1].ID() == txID {
		return bs[seq-1], nil
	}
	return ballot.Batch{}, errors.New("no such transaction")
}

func TestFinaliseRefusesUntilDrained(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	closedAt := time.Now()
	ledger := &fakeAdmin{e: ballot.Election{ID: "e1", States: []string{"CA", "NY", "TX"}, Status: ballot.StatusConfigured}}
	var missing error // what the intake log's check answers
	judged := ballot.FinaliseInput{Batched: map[string]ballot.BatchTotals{"CA": {}, "NY": {}, "TX": {}}}
	accounted := func(context.Context, *ballot.Election) (ballot.FinaliseInput, error) { return judged, missing }

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

// closedElection returns a Redis server's client and a ledger holding an
// election of CA and NY, opened an hour before it closed, a minute ago.
func closedElection(t *testing.T) (*redis.Client, *fakeAdmin) {
	t.Helper()
	closedAt := time.Now().Add(-time.Minute)
	e := ballot.Election{ID: "e1", States: []string{"CA", "NY"}, Status: ballot.StatusClosed, OpensAt: closedAt.Add(-time.Hour), ClosedAt: closedAt}
	return redistest.Start(t).Client(), &fakeAdmin{e: e}
}

// TestFinaliseSendsTheTotalsChecked: the finalise transaction carries the
// batch totals the intake log check judged, not the ledger's when it is
// sent: a batch committed after the check (here, as soon as the monitor
// has listed CA's batches) is judged by no one, and the ledger refuses the
// finalise as changed; finalise run again checks that batch too, and
// finalises.
func TestFinaliseSendsTheTotalsChecked(t *testing.T) {
	ctx := context.Background()
	rdb, ledger := closedElection(t)
	ledger.commit(t, "CA", 2)
	late := true
	ledger.listed = func(state string) {
		if state == "CA" && late {
			late = false
			ledger.commit(t, "CA", 1) // a batch no gateway accepted, right after the check read CA's
		}
	}
	var unlogged UnloggedVotes
	accounted := func(ctx context.Context, e *ballot.Election) (judged ballot.FinaliseInput, err error) {
		// No intake log: every vote is unlogged, and accepted as such.
		unlogged, judged, err = logAccounted(ctx, e, ledger, rdb, FinaliseOptions{AcceptUnlogged: true}, slog.New(slog.DiscardHandler))
		return judged, err
	}

	_, err := finalise(ctx, ledger, rdb, time.Now(), accounted)
	want := map[string]ballot.BatchTotals{"CA": {Batches: 1, Votes: 2}, "NY": {}}
	if !errors.Is(err, ballot.ErrLedgerChanged) || ledger.finalised != 0 || len(ledger.judged) != 1 || !maps.Equal(ledger.judged[0].Batched, want) {
		t.Fatalf("finalise with a batch committed after the check: %v, finalised %d times, with totals %+v; want refused as changed, with the check's totals %+v",
			err, ledger.finalised, ledger.judged, want)
	}
	if unlogged.Total() != 2 {
		t.Fatalf("the check judged %d unlogged votes; want CA's 2 before the late batch", unlogged.Total())
	}

	e, err := finalise(ctx, ledger, rdb, time.Now(), accounted)
	want = map[string]ballot.BatchTotals{"CA": {Batches: 2, Votes: 3}, "NY": {}}
	if err != nil || e.Status != ballot.StatusFinalised || len(ledger.judged) != 2 || !maps.Equal(ledger.judged[1].Batched, want) {
		t.Fatalf("finalise run again: %v, with totals %+v; want finalised with %+v", err, ledger.judged, want)
	}
	if unlogged.Total() != 3 {
		t.Fatalf("the check run again judged %d unlogged votes; want all 3", unlogged.Total())
	}
}

// TestFinaliseDrawsTheLogCheck: finalise's check of the intake logs
// draws on FinaliseOptions.Progress a moving count of the entries and
// votes it has read, as verify --log does: within CA, after its first
// batch (2 votes) and at the end after its second (5 in all), not only
// once the state is done.
func TestFinaliseDrawsTheLogCheck(t *testing.T) {
	ctx := context.Background()
	rdb, ledger := closedElection(t)
	ledger.commit(t, "CA", 2)
	ledger.commit(t, "CA", 3)
	var progress bytes.Buffer
	if _, _, err := logAccounted(ctx, &ledger.e, ledger, rdb, FinaliseOptions{AcceptUnlogged: true, Progress: &progress}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if first, last := lines[0], lines[len(lines)-1]; len(lines) != 2 || !strings.HasPrefix(first, logprogress.Label+" 2 ") || !strings.HasPrefix(last, logprogress.Label+" 5 ") {
		t.Errorf("finalise's check drew %q; want %q with 2 read (CA's first batch), then 5", progress.String(), logprogress.Label)
	}
}

// TestFinaliseRefusesEntriesPastTheAnchoredHead: finalise refuses while a
// state's intake log in Redis holds entries past its last head anchored on
// the ledger (none anchored, then one of fewer entries), naming the state
// and both counts, whatever the monitor would find; once a head anchors
// every entry, the log is accounted for and finalise goes ahead.
func TestFinaliseRefusesEntriesPastTheAnchoredHead(t *testing.T) {
	ctx := context.Background()
	rdb, ledger := closedElection(t)
	ledger.commit(t, "CA", 3)
	votes := ledger.batches["CA"][0].Votes
	var log ballot.LogTree // the CA log: the batch's votes, in Redis as the gateway appends them
	for _, v := range votes {
		entry, err := votequeue.AppendLogEntry(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.RPush(ctx, votequeue.LogKey("CA"), entry).Err(); err != nil {
			t.Fatal(err)
		}
		leaf, _ := v.Leaf()
		log.Append(leaf)
	}
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	ledger.keys, _, _ = ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(key.Public().(ed25519.PublicKey))}, 1)
	anchor := func(size uint64) {
		root, _ := log.Root(size)
		h, err := ballot.TreeHead{Election: "e1", State: "CA", Size: size, Root: ballot.HashHex(root), Timestamp: ledger.e.ClosedAt.UnixMilli()}.Sign(key)
		if err != nil {
			t.Fatal(err)
		}
		ledger.heads = map[string]ballot.AnchoredHead{"CA": {Head: h, TxID: "anchor"}}
	}
	accounted := func(ctx context.Context, e *ballot.Election) (ballot.FinaliseInput, error) {
		_, judged, err := logAccounted(ctx, e, ledger, rdb, FinaliseOptions{}, slog.New(slog.DiscardHandler))
		return judged, err
	}

	for _, anchored := range []uint64{0, 2} {
		if anchored > 0 {
			anchor(anchored)
		}
		_, err := finalise(ctx, ledger, rdb, time.Now(), accounted)
		want := fmt.Sprintf("refusing to finalise: the CA intake log holds 3 accepted votes but its last head anchored on the ledger only %d; keep the gateway running until it anchors the rest, within about a minute", anchored)
		if err == nil || !strings.Contains(err.Error(), want) || ledger.finalised != 0 {
			t.Fatalf("finalise with %d of the log's 3 entries anchored: %v, finalised %d times; want refused: %q", anchored, err, ledger.finalised, want)
		}
	}
	anchor(3)
	if e, err := finalise(ctx, ledger, rdb, time.Now(), accounted); err != nil || e.Status != ballot.StatusFinalised || ledger.finalised != 1 {
		t.Fatalf("finalise with the whole log anchored and on the ledger: %+v, %v; want finalised", e, err)
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
// says the system was never brought up and that up of that folder
// (bin/votechain --dir DIR --port-base BASE up: not make up, which starts
// .run's, nor up on the default ports) starts it, not only that a Redis
// password file is missing.
func TestFinaliseWithNoSystem(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.FinaliseElection(context.Background(), FinaliseOptions{})
	if want := fmt.Sprintf("the system in %s was never brought up; `bin/votechain --dir %s --port-base %d up` starts it", dir, dir, planBase); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("finalise with no system: %v; want %q", err, want)
	}
}

// TestGatewaysCloseWithinCloseSettle: the stack gives each gateway
// --election-max-age on its command line, the time finalise waits after a
// close (CloseSettle), where the gateways took it from the environment
// while finalise waited a fixed 5 s; Up refuses the variables that would
// make a gateway accept votes longer after a close (a larger
// GATEWAY_ELECTION_TTL raises its max age) or that would change nothing.
func TestGatewaysCloseWithinCloseSettle(t *testing.T) {
	dir := t.TempDir()
	for _, gateways := range []int{1, 2} {
		s, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Gateways: gateways})
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range s.votechain() {
			if !strings.HasPrefix(sp.Name, "gateway") {
				continue
			}
			i := slices.Index(sp.Args, "--election-max-age")
			if i < 0 || i+1 >= len(sp.Args) || sp.Args[i+1] != CloseSettle.String() {
				t.Errorf("%s's command line %q does not give --election-max-age %s", sp.Name, sp.Args, CloseSettle)
			}
		}
	}
	for _, c := range []struct {
		name, value string
		refused     bool
	}{
		{"GATEWAY_ELECTION_TTL", "2s", false},
		{"GATEWAY_ELECTION_TTL", CloseSettle.String(), false},
		{"GATEWAY_ELECTION_TTL", "30s", true},
		{"GATEWAY_ELECTION_MAX_AGE", "30s", true},
		{"GATEWAY_ELECTION_MAX_AGE", "1s", true},
		{"GATEWAY_ELECTION_MAX_AGE", CloseSettle.String(), false},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			if err := checkGatewayEnv(); (err != nil) != c.refused || err != nil && !strings.Contains(err.Error(), c.name) {
				t.Errorf("checkGatewayEnv = %v, want refused %v, naming %s", err, c.refused, c.name)
			}
		})
	}
}
