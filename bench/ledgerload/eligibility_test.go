package ledgerload_test

import (
	"testing"
	"time"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/test-network/nettest"
)

// BenchmarkCeilingEligibility drives the ledger ceiling (1000 votes per
// transaction, 8 in flight, 5 s warm-up, 25 s measured) as roll voters on a
// fresh network whose roll of $ROLL_VOTERS (default 300,000) is written and
// sealed ("sealed": every vote checked against the roll) and on another where
// it is not ("unsealed"), and reports the votes per second of each. Run it
// with -benchtime=1x; the networks are brought up untimed.
func BenchmarkCeilingEligibility(b *testing.B) {
	states := []string{"CA", "TX", "NY", "FL", "WA"}
	entries, _ := nettest.Roll(nettest.RollVoters(300_000), states)
	for _, sealed := range []bool{true, false} {
		b.Run(map[bool]string{true: "sealed", false: "unsealed"}[sealed], func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				net := nettest.Start(b)
				e := nettest.SetupElectionWithRoll(b, net, nettest.Election(states, []string{"alice", "bob", "carol"}), entries, sealed)
				ledger := nettest.Dial(b, net, "Commission").Ballot()
				b.StartTimer()
				res, err := ledgerload.Run(b.Context(), ledger, &e, ledgerload.Drive{VotesPerTx: 1000, InFlight: 8,
					Warmup: 5 * time.Second, Duration: 25 * time.Second, SeqBase: ledgerload.SeqBaseFor(time.Now()), Roll: entries})
				if err != nil || res.Errors > 0 {
					b.Fatalf("drive: %v (%d failed transactions, first: %s)", err, res.Errors, res.FirstError)
				}
				b.ReportMetric(res.VotesPerS, "votes/s")
			}
		})
	}
}
