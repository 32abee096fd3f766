package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/votechain/votechain/bench/measure"
)

// CommitPath is one peer's account of the commit stage in a probe's
// window, split from the nodes' logs (bench/measure: ParsePeerLog,
// OrdererBlocks, BlockPaths, TxWaits): the blocks the peer committed in
// the window, and the commit-status waits its gateway answered there (none
// for a peer no batcher submits through).
type CommitPath struct {
	Peer   string                   `json:"peer"`
	Blocks measure.BlockPathSummary `json:"blocks"`
	Waits  measure.TxWaitSummary    `json:"waits"`
}

// commitPathMarkdown is the commit stage as the peers' and orderers' logs
// tell it, a row a peer of each pace or A/B probe that has it (nothing
// when none has).
func (r *Report) commitPathMarkdown(b *strings.Builder) {
	probes := slices.Clone(r.Pace21.Probes)
	if r.AB != nil {
		for _, x := range r.AB.Probes {
			probes = append(probes, x.Probe)
		}
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	head := false
	for _, pr := range probes {
		for _, c := range pr.CommitPaths {
			if !head {
				p("## The commit stage from the nodes' logs\n\n")
				p("Per probe window and peer, from the peers' and orderers' INFO logs: the blocks the peer committed in the window (transactions), the share of the window its committer was busy with a block (taken to committed), and p50 / p95 in ms of each block's *backlog* (from the orderers' decision until the peer was done with earlier blocks), *validate*, *commit* and, within it, *state_commit* (Fabric times it around the state database's write lock, so it includes waiting for endorsements in progress). *Status waits* are the batchers' commit-status calls the peer's gateway answered in the window, the mean call split into ordering (request pool and consensus), backlog and transit, validate and commit, and notify; the parts add up to the call (docs/bench.md).\n\n")
				p("| probe | peer | blocks (txs) | busy | backlog | validate | commit | state_commit | status waits: mean = ordering + backlog/transit + validate/commit + notify |\n|---|---|---|---|---|---|---|---|---|\n")
				head = true
			}
			s, w := c.Blocks, c.Waits
			waits := "—"
			if w.Waits > 0 {
				m := w.Mean
				waits = fmt.Sprintf("%d: %s = %s + %s + %s + %s ms", w.Waits, ms(m.Wait), ms(m.Pool+m.Consensus), ms(m.Backlog+m.Transit), ms(m.Validate+m.Commit), ms(m.Notify))
			}
			p("| %s | %s | %d (%d) | %.2f | %s | %s | %s | %s | %s |\n", pr.Phase.Name, c.Peer, s.Blocks, s.Txs, s.PeerBusy,
				latencyCell(s.Backlog), latencyCell(s.Validate), latencyCell(s.Commit), latencyCell(s.StateCommit), waits)
		}
	}
	if head {
		p("\n")
	}
}

// latencyCell is a latency's p50 / p95 in ms, or a dash without samples.
func latencyCell(l measure.Latency) string {
	if l.N == 0 {
		return "—"
	}
	return ms(l.P50ms) + " / " + ms(l.P95ms)
}
