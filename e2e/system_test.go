// Package e2e tests the whole system as operators run it: the real network,
// redis-server, batcher and gateway processes started by the stack package,
// with votes cast through the gateway's HTTP API.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// voter is one row of the synthetic roll.
type voter = nettest.Voter

// vote is one vote the gateway accepted (202): a voter's choice in a contest.
type vote struct {
	voter
	Contest, Choice string
}

// system is a running Votechain for one test.
type system struct {
	st         *stack.Stack
	rdb        redis.UniversalClient
	ledger     *fabricclient.Ballot
	secret     []byte
	electionID string
	roll       []voter
	contests   []ballot.Contest
	states     []string
	bin        string
	http       *http.Client
}

var (
	buildOnce sync.Once
	binParent string // the folder of binDir, removed by TestMain
	binDir    string // shared by every test of the package, set once it holds every command
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binParent != "" {
		os.RemoveAll(binParent)
	}
	os.Exit(code)
}

// commands puts the project's commands in a folder once per test binary
// (nettest.Commands).
func commands(t *testing.T) string {
	buildOnce.Do(func() {
		parent := filepath.Join(nettest.RepoRoot(t), ".run", "test")
		if err := os.MkdirAll(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		dir, err := os.MkdirTemp(parent, "e2e-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binParent = dir
		bin := filepath.Join(dir, "bin")
		nettest.Commands(t, bin)
		binDir = bin // only once every command is there
	})
	if binDir == "" {
		t.Fatal("building the commands failed in an earlier test")
	}
	return binDir
}

// startSystem brings up the whole system with a roll of voters; tune
// changes the configuration before the start (monitoring timings). Under
// -short it skips t.
func startSystem(t *testing.T, batchers, voters int, tune ...func(*stack.Config)) *system {
	t.Helper()
	nettest.Integration(t)
	root := nettest.RepoRoot(t)
	bin := commands(t)
	dir := nettest.RunDir(t, "system")
	if err := rundir.Make(dir, nil, nil); err != nil { // the stack's folder before the test writes its log into it
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "system.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	cfg := stack.Config{
		Dir: dir, PortBase: nettest.PortBase(t), BinDir: bin,
		FabricBin: filepath.Join(root, "bin", "fabric"), Builder: filepath.Join(root, network.BuilderDir),
		Election: filepath.Join(root, "config", "election.json"), Window: time.Hour, Voters: voters, Batchers: batchers,
		Log: slog.New(slog.NewTextHandler(logFile, nil)),
	}
	for _, f := range tune {
		f(&cfg)
	}
	st, err := stack.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Down(false); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	if err := st.Up(ctx); err != nil {
		t.Fatalf("system up: %v", err)
	}
	t.Logf("system up in %.1f s", time.Since(began).Seconds())
	secret, err := cli.LoadSecret(st.SecretFile())
	if err != nil {
		t.Fatal(err)
	}
	ropts, err := st.RedisOptions(redisserver.UserAdmin)
	if err != nil {
		t.Fatal(err)
	}
	s := &system{st: st, secret: secret, bin: bin,
		rdb:    redisserver.NewClient(ropts),
		ledger: nettest.Dial(t, st.Network(), "Observers").Ballot(),
		http:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	t.Cleanup(func() { s.rdb.Close() })
	e, err := s.ledger.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.contests, s.states, s.electionID = e.Contests, e.States, e.ID
	s.roll = nettest.ReadRollCSV(t, st.RollCSV())
	return s
}

// post sends a JSON body to the gateway and decodes the answer into out;
// ctx bounds the request.
func (s *system) post(ctx context.Context, path string, body, out any) (int, error) {
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.st.GatewayURL()+path, bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

func (s *system) get(path string, out any) (int, error) {
	resp, err := s.http.Get(s.st.GatewayURL() + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, nil
}

// cast votes once for each voter through the HTTP API with workers
// concurrent clients and returns the accepted votes by vote id. A 503 is
// retried (the gateway stored nothing); any other non-202 is an error.
// Once ctx ends no vote is sent any more, and a request in flight ends.
func (s *system) cast(ctx context.Context, voters []voter, workers int) (map[string]vote, error) {
	votes := make([]vote, len(voters))
	for i, v := range voters {
		votes[i] = s.voteOf(v, i)
	}
	return s.castVotes(ctx, votes, workers)
}

// castVotes casts the votes as cast does.
func (s *system) castVotes(ctx context.Context, votes []vote, workers int) (map[string]vote, error) {
	var mu sync.Mutex
	accepted := make(map[string]vote, len(votes))
	var g errgroup.Group
	g.SetLimit(workers)
	for i := range votes {
		g.Go(func() error {
			v := votes[i]
			id, err := s.castOne(ctx, v)
			if err != nil {
				return err
			}
			mu.Lock()
			accepted[id] = v
			mu.Unlock()
			return nil
		})
	}
	return accepted, g.Wait()
}

// mustCast is cast that fails the test on error (test goroutine only).
func (s *system) mustCast(t *testing.T, voters []voter, workers int) map[string]vote {
	t.Helper()
	accepted, err := s.cast(t.Context(), voters, workers)
	if err != nil {
		t.Fatal(err)
	}
	return accepted
}

// backgroundCast is a cast running while the test injects faults
// (castInBackground).
type backgroundCast struct {
	ended    chan struct{} // closed once accepted and err are set
	accepted map[string]vote
	err      error
}

// castInBackground casts while the test injects faults (s.cast in
// inBackground).
func (s *system) castInBackground(t *testing.T, voters []voter, workers int) *backgroundCast {
	return inBackground(t, func(ctx context.Context) (map[string]vote, error) { return s.cast(ctx, voters, workers) })
}

// inBackground runs cast in a goroutine that never touches t: its result
// waits for wait. A test that ends before (a failure) cancels cast's
// context and waits for its end in t.Cleanup; called after startSystem,
// that cleanup runs before the system stops: no vote goes to a system
// being stopped, or to the next test's on the same ports. cast must
// return soon once its context ends.
func inBackground(t *testing.T, cast func(context.Context) (map[string]vote, error)) *backgroundCast {
	ctx, cancel := context.WithCancel(context.Background())
	b := &backgroundCast{ended: make(chan struct{})}
	go func() {
		defer close(b.ended)
		b.accepted, b.err = cast(ctx)
	}()
	t.Cleanup(func() { cancel(); <-b.ended })
	return b
}

// wait waits up to within for the cast to end and returns the accepted
// votes; t fails on the cast's error or at the deadline (test goroutine
// only).
func (b *backgroundCast) wait(t *testing.T, within time.Duration) map[string]vote {
	t.Helper()
	select {
	case <-b.ended:
	case <-time.After(within):
		t.Fatalf("the cast in the background not done after %v", within)
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.accepted
}

// done reports whether the cast has ended.
func (b *backgroundCast) done() bool {
	select {
	case <-b.ended:
		return true
	default:
		return false
	}
}

// voteOf is voter's vote in the ballot's first contest, for the i-th of the
// contest's choices (round robin).
func (s *system) voteOf(v voter, i int) vote {
	c := s.contests[0]
	return vote{voter: v, Contest: c.ID, Choice: c.Choices[i%len(c.Choices)]}
}

// body is the request body of v: it names the contest when the election has
// several, and leaves it out otherwise (the sole contest is meant).
func (s *system) body(v vote) map[string]string {
	b := map[string]string{"voter_id": v.ID, "credential": v.Credential, "state": v.State, "choice": v.Choice}
	if len(s.contests) > 1 {
		b["contest"] = v.Contest
	}
	return b
}

func (s *system) castOne(ctx context.Context, v vote) (string, error) {
	body := s.body(v)
	for attempt := 0; attempt < 50; attempt++ {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("vote of %s not cast: %w", v.ID, err)
		}
		var out struct {
			VoteID string `json:"vote_id"`
		}
		status, err := s.post(ctx, "/api/v1/vote", body, &out)
		switch {
		case err == nil && status == http.StatusAccepted:
			return out.VoteID, nil
		case status == http.StatusServiceUnavailable:
			time.Sleep(100 * time.Millisecond)
		default:
			return "", fmt.Errorf("vote of %s: status %d, %v", v.ID, status, err)
		}
	}
	return "", fmt.Errorf("vote of %s: gateway unavailable after 50 attempts", v.ID)
}

// waitQueuesDrained waits until every state's stream is empty: every
// accepted vote is committed and acknowledged. The batcher acknowledges once
// the Commission's peer has committed, and the tests read the Observers'
// peer, so it then waits for the peers to be in step (nettest.SyncPeers).
func (s *system) waitQueuesDrained(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := s.queued(t)
		if left == 0 {
			nettest.SyncPeers(t, s.st.Network())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d votes still queued after %s", left, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queued is how many votes the states' streams hold: accepted, not yet
// committed and acknowledged.
func (s *system) queued(t *testing.T) int64 {
	t.Helper()
	var n int64
	for _, st := range s.states {
		l, err := s.rdb.XLen(context.Background(), votequeue.StreamKey(st)).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += l
	}
	return n
}

// checkExactlyOnce asserts the durability invariant: the votes that got 202
// are exactly the votes counted on the ledger, each once, and the ledger's
// results equal the accepted votes per state, contest and choice.
func (s *system) checkExactlyOnce(t *testing.T, accepted map[string]vote) {
	t.Helper()
	votes := make([]ballot.Vote, 0, len(accepted))
	for id, v := range accepted {
		null := ballot.HashHex(ballot.NullifierOf(ballot.VoterKey(s.secret, s.electionID, v.ID, v.Credential), v.Contest))
		votes = append(votes, ballot.Vote{ID: id, State: v.State, Contest: v.Contest, Nullifier: null, Choice: v.Choice})
	}
	nettest.CheckCountedOnce(t, s.ledger, votes)
}
