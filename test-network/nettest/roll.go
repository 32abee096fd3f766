package nettest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
)

// Roll returns a synthetic roll of n voters of Race (the contest of
// Election) spread over states in turn, sorted for LoadRoll, and its roll
// root.
func Roll(n int, states []string) ([]ballot.RollEntry, string) {
	entries := make([]ballot.RollEntry, n)
	var buf [8]byte
	for i := range entries {
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		entries[i] = ballot.RollEntry{State: states[i%len(states)], Contest: Race, Nullifier: ballot.HashHex(sha256.Sum256(buf[:]))}
	}
	return entries, RollRoot(entries)
}

// RollRoot sorts entries by nullifier and returns their roll root.
func RollRoot(entries []ballot.RollEntry) string { return ballot.RollRoot(entries) }

// SetupElectionWithRoll records e with the roll root and size of entries
// (sorted in place) on the network's ledger and, if seal, writes the roll and seals it
// as the Commission admin. It returns the election as recorded.
func SetupElectionWithRoll(t testing.TB, n *localnet.Network, e ballot.Election, entries []ballot.RollEntry, seal bool) ballot.Election {
	t.Helper()
	e.SetRoll(entries)
	SetupElection(t, n, e)
	if seal {
		admin := Dial(t, n, "Commission", fabricclient.WithUser("Admin")).Ballot()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := admin.LoadRoll(ctx, entries, 8, nil); err != nil {
			t.Fatalf("load roll: %v", err)
		}
	}
	return e
}

// RollVoters returns $ROLL_VOTERS, or def if it is not a positive number.
func RollVoters(def int) int {
	if v, err := strconv.Atoi(os.Getenv("ROLL_VOTERS")); err == nil && v > 0 {
		return v
	}
	return def
}

// Voter is one row of a synthetic roll CSV (cmd/roll, stack.Stack.RollCSV):
// the voter, the credential the voter casts with, and the state.
type Voter struct{ ID, Credential, State string }

// ReadRollCSV reads a synthetic roll CSV.
func ReadRollCSV(t testing.TB, path string) []Voter {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Voter, 0, len(rows)-1)
	for _, r := range rows[1:] {
		out = append(out, Voter{ID: r[0], Credential: r[1], State: r[2]})
	}
	return out
}
