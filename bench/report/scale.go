package report

import (
	"fmt"
	"math"
	"strings"
)

// us formats CPU seconds per item as microseconds.
func us(coresPerItem float64) string { return fmt.Sprintf("%.0f µs", coresPerItem*1e6) }

func (r *Report) scalingMarkdown(b *strings.Builder) {
	s := r.Scale
	c, g, pl := s.Costs, s.Goals, s.Plan
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Scaling out\n\n")
	p("Derived from this run's measured per-process CPU (the table above) and the ledger ceiling. Each part is assumed to scale linearly in its units, each unit used to %.0f%% of a core; nodes have %d cores.\n\n", g.Headroom*100, g.NodeCores)
	p("| part | measured cost | one unit does | for the goal |\n|---|---|---|---|\n")
	p("| gateway (gin, HMAC, Lua call) | %s CPU per accepted vote | %s votes/s per core | %.0f cores = **%d gateway nodes** for %s votes/s |\n",
		us(c.GatewayCoresPerVote), num(pl.PerGatewayCore), pl.GatewayCores, pl.GatewayNodes, num(g.AcceptPerS))
	p("| Redis (single-threaded: one shard = one core) | %s CPU per accepted vote (all Redis work in the ramp: intake scripts, plus the batcher's reads, acks and receipts and any AOF rewrite) | %s votes/s per shard | **%d Redis shards** (Cluster; keys hash-tagged per state, big states split CA#0..CA#7) |\n",
		us(c.RedisCoresPerVote), num(pl.PerRedisShard), pl.RedisShards)
	p("| Fabric channel (%d orgs, as measured) | ledger ceiling | %s votes/s per channel | **%d channels** (groups of states) to commit %s votes/s |\n",
		g.Orgs, num(pl.PerChannel), pl.Channels, num(g.CommitPerS))
	p("| batcher | %s CPU per committed vote | one lane per partition | **%d lanes** (≥ 1 per channel) on %d batcher nodes |\n",
		us(c.BatcherCoresPerVote), pl.BatcherLanes, max(pl.BatcherNodes, 1))
	p("| peers + chaincode | %s (peer) + %s (chaincode) CPU per committed vote, per org | %d peers per channel | **%d peers** (one per org per channel) on %d peer nodes |\n",
		us(c.PeerCoresPerVote), us(c.ChaincodeCoresPerVote), g.Orgs, pl.Peers, pl.PeerNodes)
	p("| results reads (gateway, from memory) | %s CPU per GET | %s reads/s per core | %.0f cores = **%d read nodes** for %s reads/s |\n\n",
		us(c.ReadCoresPerQuery), num(pl.PerReadCore), pl.ReadCores, pl.ReadNodes, num(g.ReadsPerS))
	p("**Surge.** A %.0f s final-minute surge at %s votes/s is %s votes. Acceptance absorbs it (202 once the vote is on disk in Redis); "+
		"the ledger side above commits %s votes/s, so the queue drains **%.0f s (%.1f min) after the surge ends**. "+
		"Committing the surge as fast as it arrives would need %d channels (%d peers).\n\n",
		g.SurgeS, num(g.AcceptPerS), num(pl.SurgeVotes), num(float64(pl.Channels)*pl.PerChannel), pl.DrainS, pl.DrainS/60,
		int(math.Ceil(g.AcceptPerS/math.Max(pl.PerChannel, 1))), g.Orgs*int(math.Ceil(g.AcceptPerS/math.Max(pl.PerChannel, 1))))
	p("**Reads.** Results are pre-encoded bodies with an ETag, so %s reads/s also fit behind any HTTP cache or CDN: a cache with a 1 s TTL turns them into one request per second per edge, and the gateways only serve cache misses. Without a cache: %d read nodes as above.\n\n",
		num(g.ReadsPerS), pl.ReadNodes)
	p("**What saturates first.** Per unit, the cheapest part to run out is %s. On the measured machine (%s) every part shares the same cores: see the CPU table for which process held them in each phase.\n\n", pl.FirstToSaturate, r.Machine.Cores())
}
