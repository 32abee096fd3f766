package report

import "testing"

func TestMakeScalePlan(t *testing.T) {
	c := ScaleCosts{
		GatewayCoresPerVote:   1.0 / 10000, // 10k votes/s per core at 100%
		RedisCoresPerVote:     1.0 / 20000,
		BatcherCoresPerVote:   1.0 / 50000,
		PeerCoresPerVote:      1.0 / 8000,
		ChaincodeCoresPerVote: 1.0 / 16000,
		ChannelVotesPerS:      5000,
		ReadCoresPerQuery:     1.0 / 50000,
	}
	g := ScaleGoals{AcceptPerS: 1e6, SurgeS: 60, ReadsPerS: 1e7, CommitPerS: 250000, Headroom: 0.5, NodeCores: 16, Orgs: 2}
	p := MakeScalePlan(c, g)
	if p.PerGatewayCore != 5000 || p.GatewayCores != 200 || p.GatewayNodes != 13 {
		t.Errorf("gateway: %+v", p)
	}
	if p.RedisShards != 100 {
		t.Errorf("redis shards %d", p.RedisShards)
	}
	if p.Channels != 50 || p.Peers != 100 || p.BatcherLanes != 50 {
		t.Errorf("channels %d peers %d lanes %d", p.Channels, p.Peers, p.BatcherLanes)
	}
	// 60 s at 1M/s = 60M votes; 250k/s commit; drain after the surge =
	// (1M-250k)*60/250k = 180 s.
	if p.DrainS != 180 {
		t.Errorf("drain %v", p.DrainS)
	}
	if p.ReadCores != 400 || p.ReadNodes != 25 {
		t.Errorf("reads %v cores %d nodes", p.ReadCores, p.ReadNodes)
	}
	if p.FirstToSaturate != "one gateway core at 5000 votes/s" {
		t.Errorf("first: %s", p.FirstToSaturate)
	}
	// (1/8000 + 1/16000) * 250000 * 2 / 0.5 = 187.5 cores -> 12 nodes
	if p.PeerNodes != 12 {
		t.Errorf("peer nodes %d", p.PeerNodes)
	}
}
