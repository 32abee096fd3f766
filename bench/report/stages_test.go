package report

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
)

// fixtureStages is the stage breakdown of the batcher scrapes in
// bench/measure/testdata (a window of 1,000 votes in 20 batches and 10
// transactions: see that package's batcherstages_test.go), whose p50 and
// p95 interpolate within the batcher's buckets: a journal's 20 batches all
// at 6 ms, in (5, 7.5] ms, give 5 + 2.5 × 10/20 = 6.25 and 5 + 2.5 × 19/20
// = 7.4; the commits 180–370 ms, 8 of them up to 250 ms and 5 in (250,
// 300], 250 + 50 × 2/5 = 270 ms.
func fixtureStages(t *testing.T) *measure.BatcherStages {
	t.Helper()
	scrape := func(name string) map[string][]measure.Sample {
		f, err := os.Open("../measure/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		s, err := measure.ParseMetrics(f)
		if err != nil {
			t.Fatal(err)
		}
		return map[string][]measure.Sample{"batcher0": s}
	}
	s, err := measure.BatcherWindow(scrape("batcher-metrics-before.txt"), scrape("batcher-metrics-after.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s.SpanS = 23.4
	return &s
}

func TestMarkdownSaysWhereTheTimeGoes(t *testing.T) {
	r := fixture()
	if strings.Contains(r.Markdown(), "Where the time goes") {
		t.Fatal("a stage table without stages")
	}
	s := fixtureStages(t)
	r.Referendum.Phase.Name, r.Referendum.Stages = "referendum", s
	r.Pace21.Probes[0].Stages = s
	// A probe whose batchers could not be read has no column (the header
	// below ends with sustained's).
	r.Pace21.Probes = append(r.Pace21.Probes, Probe{Commit: Commit{Phase: r.Pace21.Probes[0].Phase}})
	r.Pace21.Probes[1].Phase.Name = "search-1"
	md := r.Markdown()
	hasAll(t, md,
		"## Where the time goes in the batcher",
		"as Prometheus's `histogram_quantile` does",
		"| stage (per) | referendum | sustained |\n|---|---|---|\n",
		"| queue (vote) | 6.0 / 9.6 / 6.0 | 6.0 / 9.6 / 6.0 |\n| buffer (vote) | 100 / 145 / 100 |",
		"| journal (batch) | 6.2 / 7.4 / 6.0 |",
		"| endorse (transaction) | 40 / 49 / 40 |",
		"| commit (batch) | 270 / 375 / 275 |",
		"| settle (batch) | 8.8 / 9.9 / 8.0 |",
		"| **vote: 202 → acknowledged** | **400 / 490 / 400** |",
		"| votes committed, batches | 1,000 in 20 |",
		"| transactions submitted (batches each) | 10 (2.00) |",
		"| **votes per transaction** | **100** |",
		"| retries | 1 | 1 |\n| span, batchers | 23 s, 1 | 23 s, 1 |\n",
	)
	// The stages follow the pace table, and the one-phase reports have them too.
	if i, j := strings.Index(md, "## Batcher pace"), strings.Index(md, "## Where the time goes"); i < 0 || j < i {
		t.Errorf("stages at %d, pace at %d", j, i)
	}
	r.Only = "sweep"
	hasAll(t, r.Markdown(), "## Referendum", "| stage (per) | referendum | sustained |")
	r.Only = "intake"
	hasAll(t, r.Markdown(), "| stage (per) | referendum | sustained |")
}

func TestStageCellsWithoutObservations(t *testing.T) {
	r := fixture()
	s := fixtureStages(t)
	s.Stages = append(s.Stages, measure.StageTime{Stage: "relay", Per: "batch"}) // a stage this window did not see
	r.Pace21.Probes[0].Stages = s
	hasAll(t, r.Markdown(), "| relay (batch) | — |", "| share (batch) | 0.5 / ")
}

func TestStagesSurviveJSON(t *testing.T) {
	r := fixture()
	r.Pace21.Probes[0].Stages = fixtureStages(t)
	back := saved(t, r)
	got := back.Pace21.Probes[0].Stages
	if got == nil || len(got.Stages) != 7 || got.VotesPerTx != 100 || got.Vote.Count != 1000 || got.SpanS != 23.4 {
		t.Fatalf("stages after JSON: %+v", got)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if back.Referendum.Stages != nil || strings.Contains(string(data), `"batcher_stages":null`) {
		t.Error("a phase without stages has a batcher_stages field")
	}
	for _, field := range []string{`"batcher_stages":{`, `"votes_per_tx":100`, `"batches_per_tx":2`, `"p95_ms":`, `"per":"transaction"`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
}
