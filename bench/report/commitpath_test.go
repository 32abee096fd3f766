package report

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
)

func TestMarkdownShowsTheCommitPath(t *testing.T) {
	r := fixture()
	if strings.Contains(r.Markdown(), "commit stage from the nodes' logs") {
		t.Fatal("a commit-path table without commit paths")
	}
	lat := func(p50, p95 float64) measure.Latency { return measure.Latency{N: 3, P50ms: p50, P95ms: p95} }
	r.Pace21.Probes[0].CommitPaths = []CommitPath{
		{
			Peer: "peer.Commission",
			Blocks: measure.BlockPathSummary{Blocks: 3, Txs: 4, PeerBusy: 0.62,
				Backlog: lat(3067, 3244), Validate: lat(93, 120), Commit: lat(600, 654), StateCommit: lat(480, 558)},
			Waits: measure.TxWaitSummary{Waits: 2, Mean: measure.WaitParts{Wait: 1000, Pool: 30, Consensus: 50, Backlog: 400, Transit: 20, Validate: 100, Commit: 398, Notify: 2}},
		},
		{Peer: "peer.Observers"},
	}
	md := r.Markdown()
	hasAll(t, md,
		"## The commit stage from the nodes' logs",
		"| sustained | peer.Commission | 3 (4) | 0.62 | 3,067 / 3,244 | 93 / 120 | 600 / 654 | 480 / 558 | 2: 1,000 = 80 + 420 + 498 + 2.0 ms |",
		"| sustained | peer.Observers | 0 (0) | 0.00 | — | — | — | — | — |",
	)
	r.Only, r.AB = "ab", &AB{Probes: []ABProbe{{Arm: "A", Round: 1, Nth: 1, Rate: 4000, Probe: r.Pace21.Probes[0]}}}
	r.AB.Probes[0].Probe.Phase.Name = "ab-4000-A1"
	hasAll(t, r.Markdown(), "| ab-4000-A1 | peer.Commission | 3 (4) |")
}
