package suite

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
)

// otherPortOffset places the other consensus's network above the run's
// system's ports (its network ports end at +130, below the ephemeral range).
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
	cfg := r.cfg.Stack
	r.say("other consensus: bringing up a %s network for its ceiling", other)
	n, err := localnet.New(localnet.Config{
		Dir: filepath.Join(cfg.Dir, "other-"+string(other)), PortBase: cfg.PortBase + otherPortOffset,
		FabricBin: cfg.FabricBin, Chaincode: filepath.Join(cfg.BinDir, "ballotcc"), Builder: network.BuilderDir,
		Consensus: other, Log: cfg.Log,
	})
	if err != nil {
		l.OtherNote = fmt.Sprintf("the %s network could not be prepared: %v", other, err)
		return
	}
	defer func() {
		if err := n.Down(true); err != nil {
			r.note("other consensus: down: %v", err)
		}
	}()
	upCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := n.Up(upCtx); err != nil {
		l.OtherNote = fmt.Sprintf("the %s network did not come up: %v", other, err)
		return
	}
	ledger, closeAll, err := r.electionOn(ctx, n)
	if err != nil {
		l.OtherNote = fmt.Sprintf("the %s network: %v", other, err)
		return
	}
	defer closeAll()
	pids := map[string]int{}
	for _, p := range n.Status(ctx).Processes {
		if p.Running {
			pids[p.Name] = p.PID
		}
	}
	lt := ledgerUnderTest{consensus: string(other), ledger: ledger, book: measure.NewCPUBook(pids)}
	c := r.ceilingOn(ctx, lt, "ceiling-"+string(other), r.cfg.Plan.CeilingDur, nil)
	l.Other = &c
	l.OtherNote = fmt.Sprintf("measured on a second network (%s) brought up for it, on a fresh ledger at the same setting, while the run's system stood idle; compare it with the fresh-ledger ceiling above.", other)
}

// electionOn sets up the run's election on network n and returns a client
// of its ballot contract as the Commission's user.
func (r *run) electionOn(ctx context.Context, n *localnet.Network) (*fabricclient.Ballot, func(), error) {
	profile, err := n.Profile()
	if err != nil {
		return nil, nil, err
	}
	admin, err := fabricclient.Dial(profile, "Commission", fabricclient.WithUser("Admin"))
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close()
	e := *r.election
	e.Status = ballot.StatusConfigured
	if err := admin.Ballot().SetupElection(ctx, e); err != nil {
		return nil, nil, fmt.Errorf("election set-up: %w", err)
	}
	conn, err := fabricclient.Dial(profile, "Commission")
	if err != nil {
		return nil, nil, err
	}
	return conn.Ballot(), func() { conn.Close() }, nil
}
