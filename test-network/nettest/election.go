package nettest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
)

// Race is the id of the one contest of Election's record.
const Race = "race"

// Election returns an election record open from a minute ago for an hour,
// with the given states and one contest, Race, between the candidates,
// naming the batcher component's identity as its one batcher.
func Election(states, candidates []string) ballot.Election {
	now := time.Now().UTC().Truncate(time.Second)
	return ballot.Election{
		ID: "test-election", Name: "Test election",
		States:   states,
		Contests: []ballot.Contest{{ID: Race, Title: "Test race", Kind: ballot.ContestRace, Choices: candidates}},
		OpensAt:  now.Add(-time.Minute), ClosesAt: now.Add(time.Hour),
		RollRoot: ballot.HashHex(ballot.MerkleRoot(nil)), RollEntries: new(0),
		Status:   ballot.StatusConfigured,
		Batchers: []string{network.Batcher.CommonName()},
	}
}

// SetupElection records e on the network's ledger as the Commission admin
// (which returns once both peers hold it).
func SetupElection(t testing.TB, n *localnet.Network, e ballot.Election) {
	t.Helper()
	conn := Dial(t, n, "Commission", fabricclient.WithUser("Admin"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conn.Ballot().SetupElection(ctx, e); err != nil {
		t.Fatalf("set up election: %v", err)
	}
}

// Dial connects to org's peer of the network, closed when the test ends;
// t's Context bounds the dial (fabricclient.Dial), not the Conn.
func Dial(t testing.TB, n *localnet.Network, org string, opts ...fabricclient.Option) *fabricclient.Conn {
	t.Helper()
	profile, err := n.Profile()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := fabricclient.Dial(t.Context(), profile, org, opts...)
	if err != nil {
		t.Fatal(fmt.Errorf("dial %s: %w", org, err))
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
