package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
)

// stalled gives a phase a slow answer, a load generator that collected and
// waited, and a machine that stalled on memory.
func stalled(ph loadgen.Phase) loadgen.Phase {
	ph.AcceptLatency.MaxMs = 131
	ph.Self = measure.GoRuntime{GCCycles: 1, MaxSchedWaitMs: 101}
	ph.ReadLag = measure.Latency{N: 3000, P99ms: 7.5, MaxMs: 86}
	ph.Stalls = measure.Stalls{CPUSomeMs: 4200, MemSomeMs: 180, MemFullMs: 95, IOSomeMs: 700, DirectReclaims: 42, StealMs: 60}
	ph.InGateway = &measure.Estimate{N: 15000, MeanMs: 1.9, P50ms: 1.4, P99ms: 9.6}
	return ph
}

func fixture() *Report {
	ph := func(name string, offered, acc float64) loadgen.Phase {
		return loadgen.Phase{Name: name, Offered: offered, AcceptedPerS: acc, AnsweredPerS: acc, DurationS: 5,
			AcceptLatency: measure.Latency{P50ms: 2, P95ms: 8, P99ms: 12}}
	}
	return &Report{
		Date:      time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC),
		Machine:   measure.Machine{Host: "box", CPUs: 2, CPUModel: "cpu", MemoryGB: 24, Kernel: "6.18", HugePages: "madvise", LoadStart: "1.0", LoadEnd: "2.0"},
		Targets:   []Target{{Name: "accepted at the knee", Goal: "≥ 25,000/s", Measured: "4,000/s", Margin: "missed by 84%"}},
		Ramp:      []loadgen.Phase{ph("ramp-1000", 1000, 990), ph("ramp-2000", 2000, 1500)},
		KneeIndex: 0,
		Fixed:     []loadgen.Phase{stalled(ph("fixed-10000", 10000, 3000))},
		Sustained: Commit{Phase: ph("sustained", 5000, 3000), WindowS: 60, CommittedPerS: 2500},
		Ceiling:   ledgerload.DriveResult{VotesPerTx: 500, InFlight: 16, VotesPerS: 4000, CountedPerS: 4000},
		Naive:     ledgerload.DriveResult{VotesPerTx: 1, InFlight: 200, VotesPerS: 300, CountedPerS: 300},
		VsCeiling: 0.625, VsNaive: 8.3,
		Reads:  Reads{Gateway: []loadgen.ReadResult{{Workers: 32, QPS: 9000}}, Bare: []loadgen.ReadResult{{Workers: 32, QPS: 10000}}, GatewayQPS: 9000, BareQPS: 10000, Ratio: 0.9},
		Phases: []string{"ramp"},
		CPU:    []measure.ProcessCPU{{Name: "gateway", Cores: map[string]float64{"ramp": 0.75}, PeakRSSMB: 80}},
		Loss:   ledgerload.Loss{Accepted: 10, Counted: 10, OK: true},
		Ledger14: LedgerSide{Consensus: "etcdraft (Raft)",
			Sweep:          []ledgerload.DriveResult{{VotesPerTx: 500, InFlight: 16, VotesPerS: 3900, CountedPerS: 3900, DurationS: 6}, {VotesPerTx: 2000, InFlight: 16, VotesPerS: 6100, CountedPerS: 6100, DurationS: 6, AllVotes: 36_600, Rejected: 20, Reasons: map[string]int{"not_on_roll": 20}}},
			Fresh:          Ceiling{Consensus: "etcdraft (Raft)", Drive: ledgerload.DriveResult{VotesPerTx: 2000, InFlight: 16, Txs: 3, VotesPerS: 6000, CountedPerS: 6000}, CPUPer1000: 0.2, Cores: 1.2},
			Grown:          Ceiling{Consensus: "etcdraft (Raft)", Drive: ledgerload.DriveResult{VotesPerTx: 2000, InFlight: 16, Txs: 3, VotesPerS: 4500, CountedPerS: 4500}, AtVotes: 2_100_000, RollEntries: 2_500_000},
			GrownOverFresh: 0.75, OtherNote: "the network has no consensus option",
			OneContest:      Ceiling{Consensus: "BFT", Contests: []string{"L2025-001"}, Drive: ledgerload.DriveResult{VotesPerTx: 2000, InFlight: 16, Txs: 3, CountedPerS: 6100}, CPUPer1000: 0.18},
			AllContests:     Ceiling{Consensus: "BFT", Contests: []string{"L2025-001", "L2025-002", "L2025-003"}, Drive: ledgerload.DriveResult{VotesPerTx: 2000, InFlight: 16, Txs: 3, CountedPerS: 5820}, CPUPer1000: 0.19},
			ContestsOverOne: 5910.0 / 6100,
			Eligibility: &Eligibility{Voters: 294_000, Ratio: 0.98,
				Sealed:   Ceiling{Consensus: "bft", Drive: ledgerload.DriveResult{VotesPerTx: 1000, InFlight: 16, Txs: 90, CountedPerS: 4900}, RollEntries: 639_000},
				Unsealed: Ceiling{Consensus: "bft", Drive: ledgerload.DriveResult{VotesPerTx: 1000, InFlight: 16, Txs: 92, CountedPerS: 5000}}}},
		Contests: []ContestResult{
			{ID: "L2025-001", Title: "Law 1", Kind: "question", Choices: []string{"oui", "non"}, Accepted: 6, Counted: 6, Ledger: map[string]uint64{"oui": 4000, "non": 3000}, LedgerCounted: 7000},
			{ID: "L2025-002", Title: "Law 2", Kind: "question", Choices: []string{"oui", "non"}, Accepted: 4, Counted: 3, Missing: 1, Ledger: map[string]uint64{"oui": 10}, LedgerCounted: 10},
			{ID: "L2025-003", Title: "Law 3", Kind: "question", Choices: []string{"oui", "non"}},
		},
		Intake15: IntakeCost{Phases: []VoteCPU{{Phase: "sustained", Accepted: 300000, GatewayUS: 80, RedisUS: 90, TotalUS: 170}},
			Storm: Storm{Phase: loadgen.Phase{Offered: 5000, DurationS: 20, Sent: 100000, Duplicates: 99990, Overloaded: 10}, Voters: 20000, Metric: "bloom_maybe_seen_total", MetricFound: true, ExactChecks: 1300}},
		Pace21: Pace{Probes: []Probe{{Commit: Commit{Phase: ph("sustained", 5000, 4900), WindowS: 60, CommittedPerS: 2400}, CommittedOverAccepted: 0.49, Why: "committed 0.49 of accepted: the queue grew by 150000"}},
			Sustainable: 2500, DrainOverCeiling: 0.8,
			Budget: &PaceBudget{Phase: "sustained", CommittedPerS: 2400, StackCores: 1.8, PerVoteUS: 750, Cores: 2, BoundPerS: 2667, GoalPerS: 8000, CoresAtGoal: 6, GoalPerVoteUS: 250}},
		Series: Series{Sent: []float64{0, 1000, 2000}, Accepted: []float64{0, 990, 1500}, Committed: []float64{0, 0, 1000},
			AcceptP99ms: []float64{0, 5, 4000}, Marks: []Mark{{Name: "ramp <1>", StartS: 0, EndS: 3}}},
	}
}

// saved is r saved (report.json, report.md, report.svg) and loaded back.
// A report made up for one section gets the fixture's date and machine
// first, if it lacks them: every run records both, and Load requires them.
func saved(t *testing.T, r *Report) *Report {
	t.Helper()
	if r.Date.IsZero() {
		r.Date = fixture().Date
	}
	if r.Machine.CPUs == 0 {
		r.Machine = fixture().Machine
	}
	dir := t.TempDir()
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestMarkdownHasTheHeadlines(t *testing.T) {
	md := fixture().Markdown()
	for _, want := range []string{
		"# Votechain benchmark — 2026-11-24 04:00 UTC, box (2 cores)",
		"share the 2 cores",
		"Linux 6.18 (transparent huge pages: madvise), ",
		"**Accepted at the knee: 990 votes/s**",
		"Votechain ÷ ceiling = 0.62; Votechain ÷ naive = 8.3×",
		"| accepted at the knee | ≥ 25,000/s | 4,000/s | missed by 84% |",
		"**ramp-1000 (knee)**",
		"| fixed-10000 | 10,000 | 0 | 3,000 | 3,000 | 2.0 ms | 8.0 ms | 12.0 ms | 131 ms | 1.4 / 9.6 ms | 0 | 0 | 0 | 0 | 1, 101 ms; 7.5 / 86 ms | 4200 / 180 (95) / 700 ms, 42; 60 ms |",
		"| ramp-2000 | 2,000 | 0 | 1,500 | 1,500 | 2.0 ms | 8.0 ms | 12.0 ms | 0 ms | — | 0 |",
		"| gateway | 0.75 | 80 MB |",
		"Loss check PASSED",
		"## Scaling out",
		"| 2000 | 16 | 0.0 | 6,100 | 20 of 36,600 (20 not_on_roll) |",
		"| grown ledger (after the fill) | etcdraft (Raft) | 2,100,000 | 2,500,000 | 2000 | 16 | **4,500** | 0 |",
		"**0.75 × the fresh one**",
		"| roll sealed on a fresh ledger (eligibility checked) | bft | 0 | 639,000 | 1000 | 16 | **4,900** |",
		"**0.98 × the one without** (4,900 / 5,000 counted/s)",
		"| sustained | 300,000 | 80 µs | 90 µs | **170 µs** |",
		"**99,990 × 409, 10 × 503**",
		"`bloom_maybe_seen_total` rose by **1300**",
		"**Sustainable rate: 2,500 votes/s offered**",
		"| sustained | 60 s | 5,000 | 4,900 | 2,400 | 0.49 |",
		"**CPU per vote in the sustained phase: 750 µs.**",
		"the machine's 2 cores carry at most 2,667 votes/s, and issue 21's 8,000 votes/s would take 6.00 cores",
		"| every vote in one contest (L2025-001) | BFT | 0 | 0 | 2000 | 16 | **6,100** |",
		"| votes over 3 contests, in turn | BFT | 0 | 0 | 2000 | 16 | **5,820** |",
		"**0.97 × the one-contest ceiling**",
		"its CPU per 1,000 votes (0.180 core-s in one contest; 0.200 and 0.190 spread) is steadier",
		"6,000 and 5,820 votes/s before and after the ceiling with every vote in one contest (6,100 votes/s), their mean **0.97 × the one-contest ceiling**",
		"The election has 3 contests",
		"| L2025-001 | question | Law 1 | 6 | 6 | 0 | 7,000 | oui 4,000, non 3,000 |",
		"| L2025-002 | question | Law 2 | 4 | 3 | 1 | 10 | oui 10, non 0 |",
		"| L2025-003 | question | Law 3 | 0 | 0 | 0 | 0 | oui 0, non 0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestPlotIsWellFormedSVG(t *testing.T) {
	svg := Plot(fixture().Series)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg: %v", err)
		}
	}
	if !bytes.Contains(svg, []byte("ramp &lt;1&gt;")) || !bytes.Contains(svg, []byte("<path")) {
		t.Fatal("svg lacks the escaped phase name or the lines")
	}
	if bytes.Contains(svg, []byte("NaN")) {
		t.Fatal("svg holds NaN coordinates")
	}
	if len(Plot(Series{})) == 0 {
		t.Fatal("empty series gives no svg")
	}
}

func TestSaveWritesAllThree(t *testing.T) {
	dir := t.TempDir()
	if err := fixture().Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil || back.Ceiling.CountedPerS != 4000 {
		t.Fatalf("json round trip: %v %+v", err, back)
	}
	for _, f := range []string{"report.md", "report.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadRefusesWhatIsNotAReport: a report.json with a field Report does
// not have (at the top or nested), without the run's date or machine, or
// with more after the report is refused, naming the file (Load took
// {"bogus":1} for a report dated 0001-01-01 on 0 cores).
func TestLoadRefusesWhatIsNotAReport(t *testing.T) {
	good, err := json.Marshal(fixture())
	if err != nil {
		t.Fatal(err)
	}
	edited := func(edit func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct{ name, json, want string }{
		{"another JSON file", `{"bogus":1}`, `unknown field "bogus"`},
		{"a field at the top it lacks", edited(func(m map[string]any) { m["surprise"] = true }), `unknown field "surprise"`},
		{"a field of the machine it lacks", edited(func(m map[string]any) { m["machine"].(map[string]any)["gpus"] = 1 }), `unknown field "gpus"`},
		{"a field of an A/B probe it lacks", edited(func(m map[string]any) { m["ab"] = abWith(map[string]any{"extra": 1}, nil) }), `unknown field "extra"`},
		{"a field of an A/B probe's figures it lacks", edited(func(m map[string]any) { m["ab"] = abWith(nil, map[string]any{"weird": 1}) }), `unknown field "weird"`},
		{"no date", edited(func(m map[string]any) { delete(m, "date") }), "it has no date"},
		{"no machine", edited(func(m map[string]any) { delete(m, "machine") }), "it has no machine"},
		{"an array", `[]`, "cannot unmarshal array"},
		{"two reports", string(good) + string(good), "more follows the report's JSON object"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "report.json")
		if err := os.WriteFile(path, []byte(c.json), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), path+" is not a bench report") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (report %v); want %s refused as not a bench report: %q", c.name, err, r != nil, path, c.want)
		}
	}
	withAB := edited(func(m map[string]any) { m["ab"] = abWith(nil, nil) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report.json"), []byte(withAB), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Load(dir); err != nil || r.AB == nil || len(r.AB.Probes) != 1 || r.AB.Probes[0].Label() != "A1" {
		t.Errorf("a report with an A/B probe of known fields: %v; want it loaded with probe A1", err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report.json"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Load(dir); err != nil || !r.Date.Equal(fixture().Date) || r.Machine.Host != "box" {
		t.Errorf("the fixture's JSON: %v; want it loaded", err)
	}
}

// TestRenderLeavesTheJSON: Render writes report.md and report.svg from the
// report and leaves report.json byte for byte as it was.
func TestRenderLeavesTheJSON(t *testing.T) {
	dir := t.TempDir()
	compact, err := json.Marshal(fixture()) // not as Save indents it
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, compact, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Render(dir); err != nil {
		t.Fatal(err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, compact) {
		t.Errorf("report.json after Render: %v, %d bytes; want the %d it had, unchanged", err, len(after), len(compact))
	}
	if md, err := os.ReadFile(filepath.Join(dir, "report.md")); err != nil || string(md) != fixture().Markdown() {
		t.Errorf("report.md: %v; want the report's Markdown", err)
	}
	if svg, err := os.ReadFile(filepath.Join(dir, "report.svg")); err != nil || !bytes.Equal(svg, Plot(fixture().Series)) {
		t.Errorf("report.svg: %v; want the report's plot", err)
	}
}

func TestMarginAndNumbers(t *testing.T) {
	cases := []struct {
		m, g  float64
		lower bool
		met   bool
		text  string
	}{
		{30000, 25000, false, true, "met (1.20× the goal)"},
		{5000, 25000, false, false, "missed by 80% (0.20× the goal)"},
		{20, 50, true, true, "met (40% of the limit)"},
		{100, 50, true, false, "missed: 2.0× the limit"},
	}
	for _, c := range cases {
		met, text := Margin(c.m, c.g, c.lower)
		if met != c.met || text != c.text {
			t.Errorf("Margin(%v, %v, %v) = %v %q", c.m, c.g, c.lower, met, text)
		}
	}
	if num(1234567.4) != "1,234,567" || num(999) != "999" || num(-1000) != "-1,000" {
		t.Errorf("num: %s %s %s", num(1234567.4), num(999), num(-1000))
	}
	if niceCeil(3400) != 5000 || niceCeil(0) != 1 || niceCeil(100) != 100 {
		t.Error("niceCeil")
	}
}

func TestMovingMean(t *testing.T) {
	got := MovingMean([]float64{0, 10, 0, 10, 0}, 3)
	want := []float64{5, 10.0 / 3, 20.0 / 3, 10.0 / 3, 5}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-9 || d < -1e-9 {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}

// TestMarkdownContestsOnExtra renders the contests pair of a one-race run,
// measured on an extra network: the spread drive before the one-contest
// drive is ContestsFirst, not the fresh ceiling, and the note says where.
func TestMarkdownContestsOnExtra(t *testing.T) {
	r := fixture()
	first := Ceiling{Consensus: "BFT", Contests: []string{"L2025-001", "L2025-002", "L2025-003"}, Drive: ledgerload.DriveResult{VotesPerTx: 2000, InFlight: 16, Txs: 3, CountedPerS: 5400}, CPUPer1000: 0.21}
	r.Ledger14.ContestsFirst = &first
	r.Ledger14.ContestsNote = "measured on a fresh bft network brought up for it"
	md := string(r.Markdown())
	for _, want := range []string{
		"| votes over 3 contests on a fresh ledger (extra network) | BFT | 0 | 0 | 2000 | 16 | **5,400** |",
		"(0.180 core-s in one contest; 0.210 and 0.190 spread)",
		"5,400 and 5,820 votes/s before and after the ceiling with every vote in one contest",
		"Contests: measured on a fresh bft network brought up for it",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestYardstickInTheHeader(t *testing.T) {
	r := fixture()
	if md := r.Markdown(); strings.Contains(md, "Yardstick") {
		t.Fatalf("a run without a yardstick mentions one:\n%s", md[:400])
	}
	r.Machine.YardstickStart = &measure.Yardstick{OneCore: 120_000, AllCores: 216_000, CPUs: 2}
	r.Machine.YardstickEnd = &measure.Yardstick{OneCore: 60_000, AllCores: 90_000, CPUs: 2}
	md := r.Markdown()
	for _, want := range []string{
		"before the run 120,000 ops/s on one core and 216,000 on all 2 (1.80×)",
		"after it 60,000 ops/s on one core and 90,000 on all 2 (1.50×)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("header lacks %q:\n%s", want, md[:600])
		}
	}
	r.Only = "intake"
	if md := r.Markdown(); !strings.Contains(md, "before the run 120,000 ops/s") {
		t.Errorf("an --only report lacks the yardstick")
	}
}

// TestPageFaultsShown: the machine's cost per fault goes beside the
// yardstick, and each ceiling's faults per 1,000 votes, with their share of
// its CPU when the cost was measured, into the ceilings' table.
func TestPageFaultsShown(t *testing.T) {
	r := fixture()
	if md := r.Markdown(); strings.Contains(md, "**Page faults**") {
		t.Fatal("a run without the probe reports its cost")
	}
	r.Machine.YardstickStart = &measure.Yardstick{OneCore: 120_000, AllCores: 216_000, CPUs: 2}
	r.Machine.PageFaultStart = &measure.PageFaultCost{MicrosPerFault: 16.25, Faults: 16_384}
	r.Machine.PageFaultEnd = &measure.PageFaultCost{MicrosPerFault: 4.5, Faults: 16_384}
	r.Ledger14.Fresh.Faults = Faults{PageFaultsPer1000: 2_500, PageFaultCPUShare: 0.2}
	r.Ledger14.After = r.Ledger14.Fresh
	r.Ledger14.After.Faults = Faults{PageFaultsPer1000: 40}
	md := r.Markdown()
	for _, want := range []string{
		"before the run 16.25 µs; after it 4.50 µs",
		"| 0.200 | 2500 (20%) |",
		"| 0.200 | 40 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// TestEnvironmentInTheHeader: the variables that set the run's processes'
// flags go into the header of a whole run's report and an --only one, and
// into the JSON; none set is said so; a report from before they were
// recorded says nothing of them.
func TestEnvironmentInTheHeader(t *testing.T) {
	r := fixture()
	if md := r.Markdown(); strings.Contains(md, "**Environment**") {
		t.Fatal("a report without the record mentions the environment")
	}
	r.Settings.Environment = Environment{Prefixes: []string{"BATCHER", "GATEWAY"}, Set: []string{"BATCHER_LEDGER_LAG=-1s", "GATEWAY_LOG_KEY=(set)"}}
	back := saved(t, r)
	if !slices.Equal(back.Settings.Environment.Set, r.Settings.Environment.Set) {
		t.Fatalf("report.json gave back %+v", back.Settings.Environment)
	}
	for _, only := range []string{"", "scaleout"} {
		r.Only = only
		if md := r.Markdown(); !strings.Contains(md, "): `BATCHER_LEDGER_LAG=-1s`, `GATEWAY_LOG_KEY=(set)`.") {
			t.Errorf("--only %q: the header lacks the variables:\n%s", only, md[:min(len(md), 1200)])
		}
	}
	r.Settings.Environment.Set = nil
	if md := r.Markdown(); !strings.Contains(md, "): none of `BATCHER_*`, `GATEWAY_*` set.") {
		t.Errorf("none set: the header does not say so:\n%s", md[:min(len(md), 1200)])
	}
}

// TestEnvironmentCheckInTheHeader: what the set variables do (warnings
// for those read by no process, the defaults the others override, or why
// that was not checked) goes into the JSON and the header, one item each.
func TestEnvironmentCheckInTheHeader(t *testing.T) {
	r := fixture()
	r.Settings.Environment = Environment{Prefixes: []string{"BATCHER"}, Set: []string{"BATCHER_LEDGER_LAG=-1s", "BATCHER_LEDGR_LAG=-1s"},
		Overrides: []string{"BATCHER_LEDGER_LAG=-1s: batcher --ledger-lag (default 1s)"},
		Unread:    []string{"BATCHER_LEDGR_LAG: batcher has no such flag (did you mean BATCHER_LEDGER_LAG?)"}}
	back := saved(t, r)
	if !slices.Equal(back.Settings.Environment.Overrides, r.Settings.Environment.Overrides) || !slices.Equal(back.Settings.Environment.Unread, r.Settings.Environment.Unread) {
		t.Fatalf("report.json gave back %+v", back.Settings.Environment)
	}
	md := r.Markdown()
	for _, want := range []string{
		"\n- WARNING: read by no process, changes nothing: BATCHER_LEDGR_LAG: batcher has no such flag (did you mean BATCHER_LEDGER_LAG?)\n",
		"\n- overrides a default: BATCHER_LEDGER_LAG=-1s: batcher --ledger-lag (default 1s)\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the header lacks %q:\n%s", want, md[:min(len(md), 1500)])
		}
	}
	r.Settings.Environment = Environment{Prefixes: []string{"BATCHER"}, Set: []string{"BATCHER_LEDGER_LAG=-1s"}, Unchecked: "the flags of batcher: not built"}
	if md := r.Markdown(); !strings.Contains(md, "\n- not checked against the processes' flags: the flags of batcher: not built\n") {
		t.Errorf("the header does not say why the variables were not checked:\n%s", md[:min(len(md), 1500)])
	}
}

// TestMarkdownSaysWhenTheOOMKillerStruck: a run during which the kernel
// killed processes for want of memory says so above everything else, and
// one without kills says nothing of it.
func TestMarkdownSaysWhenTheOOMKillerStruck(t *testing.T) {
	r := fixture()
	if md := r.Markdown(); strings.Contains(md, "OOM killer") {
		t.Error("a run without kills mentions the OOM killer")
	}
	r.OOMKills = 2
	md := r.Markdown()
	i, j := strings.Index(md, "**The kernel's OOM killer killed 2 process(es) during this run"), strings.Index(md, "## Targets")
	if i < 0 || j < 0 || i > j {
		t.Errorf("the OOM kills are not said before the targets:\n%.600s", md)
	}
}

// TestDiskWritesShown: each process's writes per phase in their own table,
// with the disks' row, and under the fixed rates' table what Redis, the
// peers and the orderers wrote in those phases; a report without writes
// (from before they were recorded) shows neither.
func TestDiskWritesShown(t *testing.T) {
	r := fixture()
	if md := r.Markdown(); strings.Contains(md, "Disk writes") {
		t.Fatal("a report without disk writes shows them")
	}
	r.Phases = []string{"ramp", "fixed-10000"}
	r.CPU = []measure.ProcessCPU{
		{Name: "redis", WriteMBps: map[string]float64{"ramp": 3, "fixed-10000": 5.4}},
		{Name: "peer.Commission", WriteMBps: map[string]float64{"ramp": 10, "fixed-10000": 20}},
		{Name: "peer.Observers", WriteMBps: map[string]float64{"ramp": 10, "fixed-10000": 10.5}},
		{Name: "orderer0", WriteMBps: map[string]float64{"fixed-10000": 12.25}},
		{Name: "gateway", Cores: map[string]float64{"ramp": 0.75}},
		{Name: "batcher0", WriteMBps: map[string]float64{"ramp": 0.04, "fixed-10000": 0}},
	}
	r.DiskWriteMBps = map[string]float64{"ramp": 30, "fixed-10000": 61.04}
	md := saved(t, r).Markdown()
	hasAll(t, md,
		"## Disk writes per process (MB/s)\n\n| process | ramp | fixed-10000 |",
		"| redis | 3.0 | 5.4 |",
		"| orderer0 | — | 12.2 |",
		"| *disks (all processes, other users' too)* | 30.0 | 61.0 |",
		"Disk writes in these phases, MB/s (Redis / peers / orderers / all of the disks): fixed-10000 5.4 / 30.5 / 12.2 / 61.0.",
		"The 1 other processes wrote under 0.05 MB/s in every phase.")
	_, writes, _ := strings.Cut(md, "## Disk writes per process")
	writes, _, _ = strings.Cut(writes, "\n## ")
	if strings.Contains(writes, "| gateway |") || strings.Contains(writes, "| batcher0 |") {
		t.Error("a process without recorded writes, or that wrote nothing to speak of, has a row in the writes table")
	}
}

// abWith is an A/B part of a report (JSON) holding one probe with the
// fields extra added to it and probeExtra to its figures.
func abWith(extra, probeExtra map[string]any) map[string]any {
	figures := map[string]any{}
	maps.Copy(figures, probeExtra)
	probe := map[string]any{"arm": "A", "round": 1, "nth": 1, "rate": 1000, "probe": figures}
	maps.Copy(probe, extra)
	return map[string]any{"b": []string{"X=1"}, "rates": []float64{1000}, "probes": []any{probe}}
}

// TestLoadReadsAReportFromBeforeTheScaleOutPhase: a report.json of the
// format before the scale-out phase (bench/reports up to
// 2026-11-30-2cpu-vm-run2), whose scaling_out was a plan with costs, goals
// and plan of fields Scale does not have, loads (it was refused for
// "costs"), and its Markdown's scaling section says it predates the phase
// instead of a plan or a phase that did not complete. Any other unknown
// field beside it is still refused, as is a scaling_out of the new format
// with a field it lacks.
func TestLoadReadsAReportFromBeforeTheScaleOutPhase(t *testing.T) {
	const old = `{"date": "2026-11-24T04:00:00Z", "machine": {"host": "vm", "cpus": 2},
		"scaling_out": {"costs": {"GatewayCoresPerVote": 0.00024, "ChannelVotesPerS": 1700},
			"goals": {"AcceptPerS": 1000000, "SurgeS": 60},
			"plan": {"gateway_cores": 346.69, "first_to_saturate": "one Fabric channel at 1700 votes/s"}},
		"notes": ["an old run"]}`
	load := func(js string) (*Report, error) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "report.json"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(dir)
	}
	r, err := load(old)
	if err != nil {
		t.Fatalf("the old format: %v; want it loaded", err)
	}
	if !r.Scale.Predated || r.Machine.Host != "vm" || len(r.Notes) != 1 {
		t.Errorf("loaded %+v; want the rest of the report read and its scaling-out marked as predating the phase", r)
	}
	md := r.Markdown()
	if !strings.Contains(md, "## Scaling out\n\nThis report predates the scale-out phase") {
		t.Errorf("the old report's Markdown does not say it predates the scale-out phase:\n%s", md)
	}
	if strings.Contains(md, "did not complete") {
		t.Errorf("the old report's Markdown says the scale-out phase did not complete, which it never had:\n%s", md)
	}
	if fresh := fixture().Markdown(); strings.Contains(fresh, "predates the scale-out phase") {
		t.Errorf("a report of the current format says it predates the scale-out phase:\n%s", fresh)
	}
	for _, c := range []struct{ name, json, want string }{
		{"the old format with a field no format had", strings.Replace(old, `"notes"`, `"surprise": 1, "notes"`, 1), `unknown field "surprise"`},
		{"the new format with a field it lacks", `{"date": "2026-11-24T04:00:00Z", "machine": {"cpus": 2}, "scaling_out": {"cluster": {}, "extra": 1}}`, `unknown field "extra"`},
	} {
		if _, err := load(c.json); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want it refused: %q", c.name, err, c.want)
		}
	}
}
