package suite

import (
	"testing"

	"github.com/votechain/votechain/bench/report"
)

func TestPartOf(t *testing.T) {
	nodes := map[string]*redisNode{"redis0": {master: true}, "redis4": {}}
	for name, want := range map[string]string{
		"redis0": report.PartMaster, "redis4": report.PartReplica, "gateway1": report.PartGateway, "haproxy": report.PartHAProxy,
		"batcher0": report.PartBatcher, "peer.Observers": report.PartPeer, "cc.Commission": report.PartChaincode,
		"orderer3": report.PartOrderer, "explorer": report.PartExplorer, "prometheus": report.PartMonitor,
		"redis-exporter": report.PartMonitor, "benchrun (load generator)": report.PartLoadGen,
	} {
		if got := partOf(name, nodes); got != want {
			t.Errorf("partOf(%q) = %q, want %q", name, got, want)
		}
	}
	if isRedisNode("redis-exporter") || !isRedisNode("redis5") {
		t.Error("isRedisNode: only redis<i> is a cluster node")
	}
}
