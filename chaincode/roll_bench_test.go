package chaincode_test

import (
	"testing"
	"time"

	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// BenchmarkRollSetupOnNetwork writes a synthetic roll of $ROLL_VOTERS
// voters (default 1,000,000) to a fresh network's ledger and seals it, as
// `make up` does (eight LoadRoll transactions in flight, then SealRoll),
// and reports the time per roll and the entries per second. Run it with
// -benchtime=1x: every iteration brings up its own network (not timed).
func BenchmarkRollSetupOnNetwork(b *testing.B) {
	n := nettest.RollVoters(1_000_000)
	entries, _ := nettest.Roll(n, netStates)
	var took time.Duration
	for range b.N {
		b.StopTimer()
		net := nettest.Start(b)
		nettest.SetupElectionWithRoll(b, net, nettest.Election(netStates, netCandidates), entries, false)
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
