// Scaling out: the run's measured per-process costs turned into a plan for
// national scale: how many gateway cores, Redis shards, batcher lanes, peers
// and channels it takes to accept a surge rate, commit it, and serve a read
// rate, and which part runs out first.

package report

import (
	"fmt"
	"math"
	"sort"
)

// ScaleCosts are measured figures from one machine.
type ScaleCosts struct {
	GatewayCoresPerVote   float64 // gateway CPU seconds per accepted vote (at the knee)
	RedisCoresPerVote     float64 // Redis CPU seconds per accepted vote (single-threaded: a shard has one core)
	BatcherCoresPerVote   float64 // batcher CPU seconds per committed vote
	PeerCoresPerVote      float64 // CPU seconds per committed vote of ONE peer (endorsing and committing)
	ChaincodeCoresPerVote float64 // chaincode CPU seconds per committed vote, per endorsing org
	ChannelVotesPerS      float64 // committed votes/s of one channel (the measured ledger ceiling)
	ReadCoresPerQuery     float64 // gateway CPU seconds per results GET
}

// ScaleGoals are the rates to reach.
type ScaleGoals struct {
	AcceptPerS float64 // e.g. 1e6 votes/s accepted (the surge)
	SurgeS     float64 // how long the surge lasts, e.g. 60 s
	ReadsPerS  float64 // e.g. 1e7 results GETs/s
	CommitPerS float64 // committed votes/s the ledger side is built for
	Headroom   float64 // usable share of a core, e.g. 0.7
	NodeCores  int     // cores per gateway/batcher/peer node, e.g. 16
	Orgs       int     // endorsing organisations (peers per channel), e.g. 2
}

// ScalePlan is what the goals take.
type ScalePlan struct {
	GatewayCores    float64 `json:"gateway_cores"`
	GatewayNodes    int     `json:"gateway_nodes"`
	RedisShards     int     `json:"redis_shards"`
	Channels        int     `json:"channels"`
	BatcherLanes    int     `json:"batcher_lanes"` // one per partition; at least one per channel
	BatcherNodes    int     `json:"batcher_nodes"`
	Peers           int     `json:"peers"` // Orgs per channel (a peer node may join several channels)
	PeerNodes       int     `json:"peer_nodes"`
	ReadCores       float64 `json:"read_cores"`
	ReadNodes       int     `json:"read_nodes"`
	SurgeVotes      float64 `json:"surge_votes"`
	DrainS          float64 `json:"drain_s"` // time after the surge until it is all committed
	FirstToSaturate string  `json:"first_to_saturate"`
	// Per-unit capacity, votes/s (or reads/s), the plan is built from.
	PerGatewayCore float64 `json:"per_gateway_core"`
	PerRedisShard  float64 `json:"per_redis_shard"`
	PerChannel     float64 `json:"per_channel"`
	PerReadCore    float64 `json:"per_read_core"`
}

func capacity(costPerUnit, headroom float64) float64 {
	if costPerUnit <= 0 {
		return math.Inf(1)
	}
	return headroom / costPerUnit
}

func ceilDiv(need, per float64) int {
	if math.IsInf(per, 1) || need <= 0 {
		return 0
	}
	return int(math.Ceil(need/per - 1e-9)) // forgive float noise: 400.0000001 cores is 400
}

// Make derives the plan. Throughput of each part is assumed linear in its
// units (gateways and Redis shards are independent per state hash tag;
// channels are independent ledgers over groups of states).
func MakeScalePlan(c ScaleCosts, g ScaleGoals) ScalePlan {
	var p ScalePlan
	p.PerGatewayCore = capacity(c.GatewayCoresPerVote, g.Headroom)
	p.PerRedisShard = capacity(c.RedisCoresPerVote, g.Headroom)
	p.PerChannel = c.ChannelVotesPerS
	p.PerReadCore = capacity(c.ReadCoresPerQuery, g.Headroom)

	p.GatewayCores = g.AcceptPerS / p.PerGatewayCore
	p.GatewayNodes = ceilDiv(p.GatewayCores, float64(g.NodeCores))
	p.RedisShards = ceilDiv(g.AcceptPerS, p.PerRedisShard)
	p.Channels = ceilDiv(g.CommitPerS, p.PerChannel)
	p.BatcherLanes = max(p.Channels, 1)
	p.BatcherNodes = ceilDiv(g.CommitPerS*c.BatcherCoresPerVote/g.Headroom, float64(g.NodeCores))
	p.Peers = p.Channels * g.Orgs
	peerCores := g.CommitPerS * (c.PeerCoresPerVote + c.ChaincodeCoresPerVote) * float64(g.Orgs) / g.Headroom
	p.PeerNodes = max(ceilDiv(peerCores, float64(g.NodeCores)), g.Orgs)
	p.ReadCores = g.ReadsPerS / p.PerReadCore
	p.GatewayCores = math.Round(p.GatewayCores*1000) / 1000
	p.ReadCores = math.Round(p.ReadCores*1000) / 1000
	p.ReadNodes = ceilDiv(p.ReadCores, float64(g.NodeCores))
	p.SurgeVotes = g.AcceptPerS * g.SurgeS
	if commit := float64(p.Channels) * p.PerChannel; commit > 0 && g.AcceptPerS > commit {
		p.DrainS = (g.AcceptPerS - commit) * g.SurgeS / commit
	}
	// What saturates first on a single unit of each: the part with the
	// lowest capacity in votes/s.
	parts := []struct {
		name string
		cap  float64
	}{
		{"one gateway core", p.PerGatewayCore}, {"one Redis shard (one core)", p.PerRedisShard}, {"one Fabric channel", p.PerChannel},
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].cap < parts[j].cap })
	p.FirstToSaturate = fmt.Sprintf("%s at %.0f votes/s", parts[0].name, parts[0].cap)
	return p
}
