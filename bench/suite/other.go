package suite

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/internal/electionsetup"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
)

// otherPortOffset places the extra networks (the other consensus's, the
// eligibility pair's, the contests pair's; one at a time) above the run's system's ports (their
// network ports end at +130, below the ephemeral range).
const otherPortOffset = 400

// otherConsensus brings up a second network running the consensus the
// run's network does not, sets up the run's election on it, measures its
// ceiling on the fresh ledger at the sweep's best setting, and removes it.
func (r *run) otherConsensus(ctx context.Context) {
	l := &r.rep.Ledger14
	other := network.BFT
	if r.st.Network().Consensus() == network.BFT {
		other = network.Raft
	}
	c, err := r.ceilingOnExtra(ctx, other, "ceiling-"+string(other), *r.election, nil, nil)
	if err != nil {
		l.OtherNote = err.Error()
		return
	}
	l.Other = &c
	l.OtherNote = fmt.Sprintf("measured on a second network (%s) brought up for it, on a fresh ledger at the same setting after its warm-up, while the run's system stood idle; compare it with the fresh-ledger ceiling above.", other)
}

// ceilingOnExtra brings up a fresh network of the given consensus, sets up
// election e on it with sealed, if set, written and sealed as its roll,
// warms it up and measures its ceiling at the sweep's best setting as CPU
// phase name with votes cast by voters (nil: random voters, whom only an
// unsealed roll counts), and removes the network.
func (r *run) ceilingOnExtra(ctx context.Context, consensus network.Consensus, name string, e ballot.Election, sealed, voters []ballot.RollEntry) (report.Ceiling, error) {
	var c report.Ceiling
	err := r.onExtra(ctx, consensus, name, e, sealed, voters, func(lt ledgerUnderTest, w *report.Warmup) {
		c = r.ceilingOn(ctx, lt, name, r.cfg.Plan.CeilingDur, nil)
		c.Warmup = w
	})
	return c, err
}

// onExtra brings up a fresh network of the given consensus in the folder
// name, sets up election e on it with sealed, if set, written and sealed as
// its roll, warms it up (warmUp) with votes cast by voters (nil: random
// voters), runs do on it (e as its election, the voters the warm-up left,
// its warm-up), books its processes' CPU in the report (bookExtraCPU) and
// removes the network.
func (r *run) onExtra(ctx context.Context, consensus network.Consensus, name string, e ballot.Election, sealed, voters []ballot.RollEntry, do func(ledgerUnderTest, *report.Warmup)) error {
	cfg := r.cfg.Stack
	r.say("%s: bringing up a fresh %s network", name, consensus)
	dir := filepath.Join(cfg.Dir, name)
	if err := cfg.checkKept(dir, otherPortOffset); err != nil { // one an earlier run left
		return fmt.Errorf("the %s network for %s could not be prepared: %w", consensus, name, err)
	}
	n, err := localnet.New(localnet.Config{
		Dir: dir, PortBase: cfg.PortBase + otherPortOffset,
		FabricBin: cfg.FabricBin, Chaincode: filepath.Join(cfg.BinDir, "ballotcc"), Builder: cfg.builder(),
		Consensus: consensus, Log: cfg.Log,
	})
	if err != nil {
		return fmt.Errorf("the %s network for %s could not be prepared: %w", consensus, name, err)
	}
	defer func() {
		if err := n.Down(true); err != nil {
			r.note("%s: down: %v", name, err)
		}
	}()
	upCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := n.Up(upCtx); err != nil {
		return fmt.Errorf("the %s network for %s did not come up: %w", consensus, name, err)
	}
	ledger, closeAll, err := r.electionOn(ctx, n, e, sealed)
	if err != nil {
		return fmt.Errorf("the %s network for %s: %w", consensus, name, err)
	}
	defer closeAll()
	lt := ledgerUnderTest{consensus: string(consensus), ledger: ledger, book: extraBook(n.Status(ctx).Processes), voters: voters, election: &e, rollEntries: len(sealed)}
	w := r.warmUp(ctx, &lt, name)
	do(lt, w)
	r.bookExtraCPU(name, string(consensus), lt.book)
	return nil
}

// electionOn sets up election e on network n, and roll if set (written and
// sealed against e's roll root), and returns a client of its ballot
// contract as the Commission's user (the batcher e names).
func (r *run) electionOn(ctx context.Context, n *localnet.Network, e ballot.Election, roll []ballot.RollEntry) (*fabricclient.Ballot, func(), error) {
	profile, err := n.Profile()
	if err != nil {
		return nil, nil, err
	}
	admin, err := fabricclient.Dial(ctx, profile, "Commission", fabricclient.WithUser("Admin"))
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close()
	e.Status = ballot.StatusConfigured
	if err := admin.Ballot().SetupElection(ctx, e); err != nil {
		return nil, nil, fmt.Errorf("election set-up: %w", err)
	}
	if roll != nil {
		began := time.Now()
		seal, err := admin.Ballot().LoadRoll(ctx, roll, electionsetup.RollParallel, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("roll: %w", err)
		}
		r.say("roll of %d voters written and sealed in %.1f s", seal.Voters, time.Since(began).Seconds())
	}
	conn, err := fabricclient.Dial(ctx, profile, "Commission")
	if err != nil {
		return nil, nil, err
	}
	return conn.Ballot(), func() { conn.Close() }, nil
}
