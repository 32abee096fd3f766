package report

import (
	"math"
	"strings"
	"testing"
)

// clusterFixture is a cluster run of 10,000 accepted votes whose processes
// used round CPU figures.
func clusterFixture() ClusterRun {
	proc := func(name, part string, cpu float64) ClusterProc {
		return ClusterProc{Name: name, Part: part, CPUS: cpu}
	}
	return ClusterRun{
		Shape: "test", Accepted: 10_000, Committed: 10_000,
		StateVotes: map[string]int{"CA": 3000, "TX": 2000, "NY": 5000},
		Procs: []ClusterProc{
			proc("gateway0", PartGateway, 1.5), proc("gateway1", PartGateway, 1.5),
			proc("haproxy", PartHAProxy, 0.5),
			proc("redis0", PartMaster, 1.0), proc("redis1", PartMaster, 1.2), proc("redis2", PartMaster, 0.8),
			proc("redis3", PartReplica, 0.4), proc("redis4", PartReplica, 0.4), proc("redis5", PartReplica, 0.4),
			proc("batcher0", PartBatcher, 0.5), proc("batcher1", PartBatcher, 0.5),
			proc("peer.Commission", PartPeer, 2), proc("peer.Observers", PartPeer, 2),
			proc("cc.Commission", PartChaincode, 0.3), proc("cc.Observers", PartChaincode, 0.3),
			proc("orderer0", PartOrderer, 0.5), proc("orderer1", PartOrderer, 0.5), proc("orderer2", PartOrderer, 0.5), proc("orderer3", PartOrderer, 0.5),
			proc("explorer", PartExplorer, 0.5), proc("prometheus", PartMonitor, 0.2),
			proc("benchrun (load generator)", PartLoadGen, 3),
		},
	}
}

var fixtureGoals = ScaleGoals{RatePerS: 50_000, Headroom: 0.7, HostCores: 16, Orgs: 2}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6*math.Max(1, math.Abs(b)) }

func TestMakeScalePlan(t *testing.T) {
	p := MakeScalePlan(clusterFixture(), 4000, 2, fixtureGoals)
	rows := map[string]ScaleRow{}
	for _, r := range p.Rows {
		rows[r.Part] = r
	}
	if len(rows) != 8 {
		t.Fatalf("%d rows, want one per part of the shape: %+v", len(rows), p.Rows)
	}
	for _, w := range []struct {
		part                   string
		per1000, perUnit, cost float64
		need, hosts            int
	}{
		// gateways: 3 core-s / 10,000 votes; 0.7 / 3e-4 = 2,333 votes/s per core;
		// 50,000 × 3e-4 / 0.7 = 21.4 cores; a host carries 16 × 0.7 / 3e-4 = 37,333.
		{PartGateway, 0.3, 0.7 / 3e-4, 50_000 * 3e-4 / 0.7, 22, 2},
		{PartHAProxy, 0.05, 0.7 / 5e-5, 50_000 * 5e-5 / 0.7, 4, 1},
		// three masters share 3e-4: one master (1e-4 of its own) carries 7,000 votes/s.
		{PartMaster, 0.3, 7000, 50_000 * 3e-4 / 0.7, 8, 2},
		// one replica per master, whatever its cost.
		{PartReplica, 0.12, 0.7 / 4e-5, 50_000 * 1.2e-4 / 0.7, 8, 1},
		{PartBatcher, 0.1, 7000, 50_000 * 1e-4 / 0.7, 8, 1},
		// two peers, 4e-4 together: 28.6 cores; 28,000 votes/s per host, so 2 hosts.
		{PartPeer, 0.4, 0.7 / 4e-4, 50_000 * 4e-4 / 0.7, 29, 2},
		// one host would carry it, but each of the 2 organisations runs its own.
		{PartChaincode, 0.06, 0.7 / 6e-5, 50_000 * 6e-5 / 0.7, 5, 2},
		{PartOrderer, 0.2, 3500, 50_000 * 2e-4 / 0.7, 15, 1},
	} {
		r := rows[w.part]
		if !near(r.Per1000, w.per1000) || !near(r.PerUnit, w.perUnit) || !near(r.Cores, w.cost) || r.Need != w.need || r.Hosts != w.hosts {
			t.Errorf("%s: got per1000 %v per unit %v cores %v need %d hosts %d; want %v %v %v %d %d",
				w.part, r.Per1000, r.PerUnit, r.Cores, r.Need, r.Hosts, w.per1000, w.perUnit, w.cost, w.need, w.hosts)
		}
	}
	if !near(p.TotalCores, 50_000*1.53e-3/0.7) || p.TotalHosts != 12 {
		t.Errorf("total %v cores %d hosts", p.TotalCores, p.TotalHosts)
	}
	// 12.5 channels of 4,000 → 13, and a lane per channel.
	if p.Channels != 13 || p.Lanes != 13 {
		t.Errorf("channels %d lanes %d", p.Channels, p.Lanes)
	}
	// Everything but the load generator: 16 core-s per 10,000 votes, so 2
	// cores are full at 1,250 votes/s; redis1 (1.2 s) at 8,333.
	if !near(p.MachineRate, 1250) || p.HotMaster != "redis1" || !near(p.HotMasterRate, 10_000/1.2) {
		t.Errorf("machine %v, hot master %s at %v", p.MachineRate, p.HotMaster, p.HotMasterRate)
	}
	if p.TopPart != PartPeer || !near(p.TopShare, 4.0/16) {
		t.Errorf("top part %s %v, want the peers' 4 of 16 core-s", p.TopPart, p.TopShare)
	}
	if !strings.HasPrefix(p.MachineFirst, "the machine's 2 cores") || !strings.HasSuffix(p.MachineFirst, "at 1,250 votes/s") {
		t.Errorf("machine first: %s", p.MachineFirst)
	}
	if p.HostFirst != "peer at 28,000 votes/s per 16-core host" {
		t.Errorf("host first: %s", p.HostFirst)
	}
	if p.BigState != "NY" || !near(p.BigStateShare, 0.5) || !near(p.BigStateRate, 25_000) {
		t.Errorf("big state %s %v %v", p.BigState, p.BigStateShare, p.BigStateRate)
	}
}

func TestMakeScalePlanWhatRunsOutFirst(t *testing.T) {
	// 64 cores hold 40,000 votes/s: the busiest master (8,333) comes first,
	// unless the channel's ceiling is lower.
	if p := MakeScalePlan(clusterFixture(), 0, 64, fixtureGoals); !strings.Contains(p.MachineFirst, "master's one core (redis1) at 8,333") {
		t.Errorf("no channel measured: %s", p.MachineFirst)
	} else if p.Channels != 0 || p.Lanes != 8 {
		t.Errorf("no channel measured: %d channels, %d lanes (want 0, the batcher cores' 8)", p.Channels, p.Lanes)
	}
	if p := MakeScalePlan(clusterFixture(), 4000, 64, fixtureGoals); p.MachineFirst != "the Fabric channel's ledger ceiling at 4,000 votes/s" {
		t.Errorf("channel: %s", p.MachineFirst)
	}
	// No votes: no plan rows and nothing to run out.
	if p := MakeScalePlan(ClusterRun{}, 4000, 2, fixtureGoals); len(p.Rows) != 0 || p.MachineRate != 0 {
		t.Errorf("empty run: %+v", p)
	}
}

func TestScalingMarkdown(t *testing.T) {
	c := clusterFixture()
	r := &Report{Scale: Scale{Cluster: c, Goals: fixtureGoals, Plan: MakeScalePlan(c, 4000, 2, fixtureGoals)}}
	var b strings.Builder
	r.scalingMarkdown(&b)
	md := b.String()
	for _, want := range []string{
		"| gateway | 2 | 0.300 | 2,333 votes/s per gateway core | **22** × gateway core | 21.4 | 2 | 37,333 |",
		"| redis master | 3 | 0.300 | 7,000 votes/s per master (one core: Redis is single-threaded) | **8** × master |",
		"**13 channels**",
		"NY cast 50.0% of the votes: at 50,000 votes/s that is 25,000 votes/s on the one master",
		"3.57× what one master carries",
		"the largest share of them the peer processes' 25%",
		"Per added host: **peer at 28,000 votes/s per 16-core host**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	r.Scale.Cluster.Error = "the cluster did not come up: boom"
	b.Reset()
	r.scalingMarkdown(&b)
	if !strings.Contains(b.String(), "did not complete: the cluster did not come up: boom") || strings.Contains(b.String(), "channels") {
		t.Errorf("failed phase:\n%s", b.String())
	}
}

func TestOnlyScaleOutReport(t *testing.T) {
	c := clusterFixture()
	r := &Report{Only: "scaleout", Scale: Scale{Cluster: c, Goals: fixtureGoals, Plan: MakeScalePlan(c, 0, 2, fixtureGoals)}, Notes: []string{"a note"}}
	md := r.Markdown()
	for _, want := range []string{"`benchrun --only scaleout`", "## Scaling out", "on a stack of its own, alone", "- a note"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "## Targets") || strings.Contains(md, "## Loss check") {
		t.Errorf("a one-phase report shows the whole run's sections:\n%s", md)
	}
}
