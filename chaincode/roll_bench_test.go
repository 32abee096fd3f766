package chaincode_test

import (
	"crypto/sha256"
	"encoding/binary"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// BenchmarkRollSetupOnNetwork writes a synthetic roll of $ROLL_VOTERS
// voters (default 1,000,000) to a fresh network's ledger and seals it, as
// `make up` does (eight LoadRoll transactions in flight, then SealRoll),
// and reports the time per roll and the entries per second. Run it with
// -benchtime=1x: every iteration brings up its own network (not timed).
func BenchmarkRollSetupOnNetwork(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("ROLL_VOTERS")); err == nil && v > 0 {
		n = v
	}
	entries, root := syntheticRoll(n)
	var took time.Duration
	for range b.N {
		b.StopTimer()
		net := nettest.Start(b)
		e := nettest.Election(netStates, netCandidates)
		e.RollRoot = root
		nettest.SetupElection(b, net, e)
		admin := nettest.Dial(b, net, "Commission", fabricclient.WithUser("Admin")).Ballot()
		b.StartTimer()
		start := time.Now()
		seal, err := admin.LoadRoll(b.Context(), entries, 8, nil)
		took += time.Since(start)
		if err != nil || seal.Voters != n {
			b.Fatalf("roll sealed as %+v (%v)", seal, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "entries/s")
}

// syntheticRoll returns a roll of n voters spread over netStates, sorted,
// and its roll root.
func syntheticRoll(n int) ([]ballot.RollEntry, string) {
	entries := make([]ballot.RollEntry, n)
	var buf [8]byte
	for i := range entries {
		binary.LittleEndian.PutUint64(buf[:], uint64(i))
		entries[i] = ballot.RollEntry{State: netStates[i%len(netStates)], Nullifier: ballot.HashHex(sha256.Sum256(buf[:]))}
	}
	return entries, rollRoot(entries)
}

// rollRoot sorts entries and returns their roll root.
func rollRoot(entries []ballot.RollEntry) string {
	ballot.SortRoll(entries)
	leaves := make([][32]byte, len(entries))
	for i, e := range entries {
		leaves[i], _ = ballot.ParseHash(e.Nullifier)
	}
	return ballot.HashHex(ballot.MerkleRoot(leaves))
}
