package report

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
)

// TestMarkdownRedisPersistence renders the intake phases' Redis
// persistence: a phase with a rewrite begun and ended in it, a quiet one,
// one inside a running rewrite, and one no reading covered (blank cells).
func TestMarkdownRedisPersistence(t *testing.T) {
	r := fixture()
	child := 62.0
	r.Intake15.Phases = append(r.Intake15.Phases, VoteCPU{Phase: "fixed-5000", Accepted: 48525, GatewayUS: 51, RedisUS: 81, TotalUS: 132, RedisChildUS: &child})
	r.Intake15.Redis = []measure.RedisWindow{
		{Phase: "fixed-5000", Known: true, Rewrites: 1, Started: 1, Ended: 1, RewriteS: 4.2, ForkMS: 38, CowMB: 61, ChildCPUS: 3.0,
			Events: []measure.LatencyEvent{{Event: "aof-fsync-always", Seconds: 6, MaxMS: 212}, {Event: "aof-write-active-child", Seconds: 2, MaxMS: 9}, {Event: "command", Seconds: 1, MaxMS: 14}, {Event: "fork", Seconds: 1, MaxMS: 38}}},
		{Phase: "ramp-500", Known: true},
		{Phase: "ramp-12500", Known: true, Rewrites: 1, RewriteS: 4, Events: []measure.LatencyEvent{{Event: "aof-fsync-always", Seconds: 4, MaxMS: 95}}},
		{Phase: "storm"},
	}
	md := string(r.Markdown())
	for _, want := range []string{
		"| phase | accepted (202) | gateway CPU per vote | Redis CPU per vote | together | of Redis's, AOF rewrite children |",
		"| sustained | 300,000 | 80 µs | 90 µs | **170 µs** |  |",
		"| fixed-5000 | 48,525 | 51 µs | 81 µs | **132 µs** | 62 µs |",
		"**Redis persistence per intake phase**",
		"threshold 1 ms",
		"| fixed-5000 | 4.2 s | 1 / 1 | 38 ms | 61 MB | 3.0 s | 6 s, 212 ms | 9 ms | command 14 ms, fork 38 ms |",
		"| ramp-500 | — |  |  |  |  | 0 s |  |  |",
		"| ramp-12500 | 4.0 s | 0 / 0 |  |  |  | 4 s, 95 ms |  |  |",
		"| storm | | | | | | | | |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// The table sits in the intake section, after the cost per vote.
	if i, j := strings.Index(md, "## Intake cost"), strings.Index(md, "**Redis persistence per intake phase**"); i < 0 || j < i {
		t.Errorf("persistence table at %d, intake section at %d", j, i)
	}
	r.Intake15.Redis = nil
	if strings.Contains(string(r.Markdown()), "Redis persistence per intake phase") {
		t.Error("a report without readings renders the persistence table")
	}
}
