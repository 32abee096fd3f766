package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/bench/suite"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/internal/stack"
)

func TestMain(m *testing.M) {
	clitest.MainIfAsked(main)
	os.Exit(m.Run())
}

// TestUsageErrors: mistakes on the command line of the run, render and
// serve-bytes are usage errors (status 2) naming the mistake, before
// anything is made; benchrun bogus ran the benchmark. The run's cases
// ask for more free space than any disk has, so one that got past the
// checks fails before it starts a system.
func TestUsageErrors(t *testing.T) {
	body := func(ctx context.Context) error { return dispatch(ctx, os.Args[1:]) }
	reports := t.TempDir()
	guard := []string{"--min-free-gb", "1e12", "--reports", reports, "--dir", filepath.Join(t.TempDir(), "bench"), "--election", "../../config/election.json", "--contests-election", "../../config/referendum.json"}
	guarded := func(args ...string) []string { return append(slices.Clone(guard), args...) }
	eph := strconv.Itoa(suite.FirstEphemeralPort()) // the machine's, which benchrun reads
	missing, malformed := filepath.Join(t.TempDir(), "missing.json"), filepath.Join(t.TempDir(), "malformed.json")
	if err := os.WriteFile(malformed, []byte(`{"id": `), 0o600); err != nil {
		t.Fatal(err)
	}
	clitest.UsageErrors(t, body, []string{"benchrun"}, []clitest.UsageCase{
		{Args: []string{"--bogus"}, Want: "flag provided but not defined: -bogus"},
		{Args: []string{"--voters", "many"}, Want: `invalid value "many" for flag -voters`},
		{Args: guarded("bogus"), Want: `unknown command "bogus": benchrun's commands, given first, are render and serve-bytes`},
		{Args: guarded("--only", "everything"), Want: `--only "everything": the phases that run alone are`},
		{Args: guarded("--sweep-noise", "1"), Want: "--sweep-noise 1: give a share of the rate from 0 to below 1"},
		{Args: guarded("--contests-election", "../../config/election.json"), Want: "has 1 contest: give a template of two or more"},
		{Args: guarded("--election", missing), Want: "--election " + missing + ": election template: open " + missing},
		{Args: guarded("--election", malformed), Want: "--election " + malformed + ": election template " + malformed},
		{Args: guarded("--contests-election", missing), Want: "--contests-election " + missing + ": election template: open " + missing},
		{Args: guarded("--contests-election", malformed), Want: "--contests-election " + malformed + ": election template " + malformed},
		{Args: guarded("--dir", ""), Want: "--dir is empty"},
		{Args: guarded("--port-base", "99999"), Want: "--port-base 99999: this run's port plans of 400 ports each start 400 below the base (the scale-out stack), at the base (the run's system) and 400 above it (the extra networks): it needs the 1200 ports from base-400 to base+799, below the ephemeral range (" + eph + "+: net.ipv4.ip_local_port_range)"},
		{Args: guarded("--port-base", "1100"), Want: "give a base from 1425 to " + lastBase(suite.Config{Plan: suite.DefaultPlan()})},
		{Args: guarded("--port-base", "64601"), Want: "--port-base 64601"},
		{Args: guarded("--port-base", "32000"), Want: "--port-base 32000"}, // its ports reached 32799, in Linux's default ephemeral range
		{Args: guarded("--only", "intake", "--port-base", "65001"), Want: "the 400 ports from base to base+399, below the ephemeral range (" + eph + "+: net.ipv4.ip_local_port_range), so give a base from 1025 to " + lastBase(suite.Config{Only: suite.OnlyIntake, Plan: suite.DefaultPlan()})},
		{Args: guarded("--only", "scaleout", "--port-base", "1100"), Want: "the 400 ports from base-400 to base-1, below the ephemeral range (" + eph + "+: net.ipv4.ip_local_port_range), so give a base from 1425 to " + lastBase(suite.Config{Only: suite.OnlyScaleOut, Plan: suite.DefaultPlan()})},
		{Args: guarded("--voters", "0"), Want: "--voters is 0: the intake phases need at least 1 voter"},
		{Args: guarded("--driver-voters", "-1"), Want: "--driver-voters is -1"},
		{Args: guarded("--drive-rate", "0"), Want: "--drive-rate is 0: it must be above zero"},
		{Args: guarded("--extra-drive-rate", "NaN"), Want: "--extra-drive-rate is NaN"},
		{Args: guarded("--duplicates", "5"), Want: "--duplicates, --ineligible: the duplicate share 5 and the ineligible share 0.01"},
		{Args: guarded("--ineligible", "-0.1"), Want: "--duplicates, --ineligible"},
		{Args: guarded("--max-workers", "0"), Want: "--max-workers is 0: it must be at least 1"},
		{Args: guarded("--exact-check-metric", ""), Want: `--exact-check-metric: "" is not a metric's name`},
		{Args: guarded("--exact-check-metric", "a,b c"), Want: `--exact-check-metric: "b c"`},
		{Args: guarded("--sweep-noise", "NaN"), Want: "--sweep-noise NaN"},
		{Args: guarded("--scaleout-rate", "-1"), Want: "--scaleout-rate is -1"},
		{Args: guarded("--scaleout-duration", "0s"), Want: "--scaleout-duration is 0s: it must be at least 1ms"},
		// Without its check, the run took a negative --min-free-gb for no
		// check: the missing template stops such a run before it starts.
		{Args: guarded("--min-free-gb", "-1", "--election", "no-such-election.json"), Want: "--min-free-gb is -1"},
		{Args: []string{"render"}, Want: "render: give one report folder"},
		{Args: []string{"render", "a", "b"}, Want: "got 2 arguments"},
		{Args: []string{"render", "--bogus", "a"}, Want: "flag provided but not defined: -bogus"},
		{Args: []string{"serve-bytes"}, Want: "serve-bytes: no --file"},
		{Args: []string{"serve-bytes", "--listen"}, Want: "flag needs an argument: -listen"},
		{Args: []string{"serve-bytes", "--file", "x", "y"}, Want: `unexpected arguments ["y"]`},
	})
	if entries, _ := os.ReadDir(reports); len(entries) > 0 {
		t.Errorf("a refused run made %s", entries[0].Name())
	}
}

// TestPortBaseFollowsTheStacksTheRunStarts: the port base one above the
// last a whole run takes on this machine, which a whole run refuses (its
// extra networks 400 above it would reach the ephemeral range), is taken by
// --only intake and --only sweep, which bring up the run's system alone:
// each gets past the checks to the free-space guard (more than any disk
// has), not a usage error; so is a base near the bottom by a whole run
// without the scale-out phase. A whole run without the other consensus
// and the contests pair is still refused at the top: the eligibility pair
// brings up an extra network.
func TestPortBaseFollowsTheStacksTheRunStarts(t *testing.T) {
	body := func(ctx context.Context) error { return dispatch(ctx, os.Args[1:]) }
	guard := []string{"benchrun", "--min-free-gb", "1e12", "--reports", t.TempDir(), "--dir", filepath.Join(t.TempDir(), "bench"), "--election", "../../config/election.json", "--contests-election", "../../config/referendum.json"}
	run := func(args ...string) error { return clitest.Run(t, body, append(slices.Clone(guard), args...)...) }
	whole := lastBase(suite.Config{Plan: suite.DefaultPlan()})
	last, _ := strconv.Atoi(whole)
	top, bottom := strconv.Itoa(last+1), "1100"
	for _, args := range [][]string{
		{"--port-base", top},
		{"--other-consensus=false", "--contests-election", "", "--port-base", top},
	} {
		if err := run(args...); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "400 above it (the extra networks)") || !strings.Contains(err.Error(), "give a base from 1425 to "+whole) {
			t.Errorf("%q: %v; want it refused for the extra networks, naming the bases a whole run takes", args, err)
		}
	}
	for _, args := range [][]string{
		{"--only", "intake", "--port-base", top},
		{"--only", "sweep", "--port-base", top},
		{"--scaleout-rate", "0", "--port-base", bottom},
	} {
		if err := run(args...); err == nil || errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--min-free-gb") {
			t.Errorf("%q: %v; want the port base taken, the run stopped by the free-space guard", args, err)
		}
	}
}

// lastBase is the last port base a run of cfg takes on this machine
// (suite.PortBases below its ephemeral range, as benchrun reads it).
func lastBase(cfg suite.Config) string {
	cfg.FirstEphemeral = suite.FirstEphemeralPort()
	_, last := suite.PortBases(cfg)
	return strconv.Itoa(last)
}

// TestExitStatus: benchrun as a process exits 2 for a usage error, 1 for
// another failure, each printed after "benchrun: ", and 0 for --help,
// which lists render beside the run's flags.
func TestExitStatus(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"render"}, 2, "benchrun: render: give one report folder"},
		{[]string{"render", t.TempDir()}, 1, "benchrun: report: open "},
		{[]string{"--help"}, 0, "benchrun render DIR           write DIR's report.md and report.svg again from its report.json"},
		{[]string{"--help"}, 0, "-only string"},
	} {
		if code, out := clitest.Exec(t, c.args...); code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("benchrun %q: status %d, output:\n%s\nwant %d and %q", c.args, code, out, c.code, c.want)
		}
	}
}

// TestRenderLeavesTheJSON: benchrun render writes report.md and
// report.svg and never report.json, which it left re-marshalled (fields it
// did not know dropped); a report.json that is not a bench report exits 1
// naming the file, and nothing is written (it rendered {"bogus":1} as a
// report of 0001-01-01 on 0 cores).
func TestRenderLeavesTheJSON(t *testing.T) {
	valid, err := json.Marshal(report.Report{Date: time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC), Machine: measure.Machine{Host: "box", CPUs: 2}, KneeIndex: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		json    []byte
		code    int
		want    string
		written bool // report.md and report.svg
	}{
		{"a report, not as Save indents it", valid, 0, "", true},
		{"another JSON file", []byte(`{"bogus":1}` + "\n"), 1, `is not a bench report of this benchrun: json: unknown field "bogus"`, false},
		{"no machine", []byte(`{"date":"2026-12-06T04:00:00Z"}`), 1, "is not a bench report of this benchrun: it has no machine", false},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "report.json")
		if err := os.WriteFile(path, c.json, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out := clitest.Exec(t, "render", dir)
		if code != c.code || !strings.Contains(out, c.want) || (c.code != 0 && !strings.Contains(out, "benchrun: report: "+path)) {
			t.Errorf("%s: status %d, output:\n%s\nwant %d and %q naming %s", c.name, code, out, c.code, c.want, path)
		}
		if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, c.json) {
			t.Errorf("%s: report.json after render: %d bytes, %v; want it unchanged, the %d bytes it had", c.name, len(after), err, len(c.json))
		}
		for _, f := range []string{"report.md", "report.svg"} {
			if _, err := os.Stat(filepath.Join(dir, f)); (err == nil) != c.written {
				t.Errorf("%s: %s written: %v; want %v", c.name, f, err == nil, c.written)
			}
		}
	}
}

// TestConcludeExitStatus: a run a signal cut short, or that ended early
// otherwise, saves its partial report and ends in an error naming the
// cause and the report, with the shell's status for the signal (130, 143)
// or none of its own (cli.Main exits 1); a run that got to its end returns
// nil. The signal is the cause cli.Main's context ends with (its tests
// send real ones).
func TestConcludeExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sig      syscall.Signal // 0: none
		runErr   error
		wantCode int // 0: nil
		wantMsg  []string
	}{
		{"SIGINT, phases noted the cancellation", syscall.SIGINT, nil, 130, []string{"interrupted by SIGINT"}},
		{"SIGTERM mid-phase", syscall.SIGTERM, context.Canceled, 143, []string{"interrupted by SIGTERM", "context canceled"}},
		{"the driver voters ran out", 0, errors.New("a drive might run out of voters"), 1, []string{"a drive might run out of voters"}},
		{"to the end", 0, nil, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := interruptedBy(t, tc.sig)
			out := t.TempDir()
			var w bytes.Buffer
			err := conclude(ctx, &w, &report.Report{Date: time.Now(), KneeIndex: -1}, tc.runErr, out)
			md, rerr := os.ReadFile(filepath.Join(out, "report.md"))
			if rerr != nil {
				t.Fatalf("no report saved: %v", rerr)
			}
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("a run to its end: %v; want nil", err)
				}
				if strings.Contains(string(md), "ended early") || !strings.Contains(w.String(), "\nreport: ") {
					t.Fatalf("a run to its end: said %q, report notes %q", w.String(), md)
				}
				return
			}
			if err == nil || cli.ExitStatus(err, context.Cause(ctx)) != tc.wantCode {
				t.Fatalf("conclude: %v (%#v); want an early end with status %d", err, err, tc.wantCode)
			}
			want := append([]string{"the run ended early", "partial report: " + filepath.Join(out, "report.md")}, tc.wantMsg...)
			for _, s := range want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("last line %q does not say %q", err, s)
				}
			}
			for _, s := range tc.wantMsg {
				if !strings.Contains(string(md), s) {
					t.Errorf("report.md's notes do not say %q", s)
				}
			}
			if !strings.Contains(w.String(), "partial report: ") {
				t.Errorf("said %q; want it to call the report partial", w.String())
			}
		})
	}
}

// TestConcludeBeforeAnyReport: a run interrupted before it had a report
// (its system was still coming up) writes none, says so, and exits 130 all
// the same.
func TestConcludeBeforeAnyReport(t *testing.T) {
	out := t.TempDir()
	ctx := interruptedBy(t, syscall.SIGINT)
	err := conclude(ctx, io.Discard, nil, errors.New("bench stack up: context canceled"), out)
	if cli.ExitStatus(err, context.Cause(ctx)) != 130 || !strings.Contains(err.Error(), "interrupted by SIGINT") || !strings.Contains(err.Error(), "no report written") {
		t.Fatalf("conclude: %v; want an early end with status 130 that says no report was written", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Fatalf("wrote %d files for a run without a report", len(entries))
	}
}

// TestABFlags is --only ab's wiring: its flags make the A/B (rates,
// duration, warm-up, rounds, both sides' settings) once the names are the batcher's
// flags (a stand-in batcher's --help lists them as flag.PrintDefaults does);
// a misspelt name, a bad rate, a rate twice, no round, no --ab-env, fewer
// --voters than the probes and warm-ups may cast (--quick's default too),
// or an --ab-* flag without --only ab is refused before the run makes its
// report folder; a cancelled ctx (a signal) stops the check.
func TestABFlags(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\nprintf '  -ledger-lag duration\\n    \\tlag\\n  -tick duration\\n    \\ttick\\n' >&2\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "batcher"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{"ab-env": true}
	ab, err := abConfig(t.Context(), "ab", set, abFlags{a: "BATCHER_TICK=20ms", b: " BATCHER_LEDGER_LAG=-1s  BATCHER_TICK=50ms", rates: "2000,2500", d: 30 * time.Second, warmup: 10 * time.Second, rounds: 3}, 2_160_000, bin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ab.A, " ") != "BATCHER_TICK=20ms" || strings.Join(ab.B, " ") != "BATCHER_LEDGER_LAG=-1s BATCHER_TICK=50ms" ||
		len(ab.Rates) != 2 || ab.Rates[0] != 2000 || ab.Rates[1] != 2500 || ab.Dur != 30*time.Second || ab.Warmup != 10*time.Second || ab.Rounds != 3 {
		t.Errorf("the A/B: %+v", ab)
	}
	for _, tc := range []struct {
		name       string
		b, rates   string
		rounds     int
		wantSubstr string
	}{
		{"misspelt", "BATCHER_LEDGERLAG=-1s", "2000", 1, "BATCHER_LEDGERLAG: no flag"},
		{"bad rate", "BATCHER_LEDGER_LAG=-1s", "2000,fast", 1, "--ab-rates"},
		{"a rate twice", "BATCHER_LEDGER_LAG=-1s", "3750,3750", 1, "rate 3750 given twice: to repeat the probes at a rate, give more rounds (--ab-rounds)"},
		{"no round", "BATCHER_LEDGER_LAG=-1s", "2000", 0, "0 rounds"},
		{"no B", "", "2000", 1, "no B"},
	} {
		if _, err := abConfig(t.Context(), "ab", set, abFlags{b: tc.b, rates: tc.rates, d: time.Minute, rounds: tc.rounds}, 3_000_000, bin); err == nil || !strings.Contains(err.Error(), tc.wantSubstr) {
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.wantSubstr)
		}
	}
	// (2,000 + 2,500)/s × 4 probes × 3 rounds × (30 s + 10 s warm-up).
	_, err = abConfig(t.Context(), "ab", set, abFlags{b: "BATCHER_LEDGER_LAG=-1s", rates: "2000,2500", d: 30 * time.Second, warmup: 10 * time.Second, rounds: 3}, 2_159_999, bin)
	if err == nil || !strings.Contains(err.Error(), "offer up to 2160000 votes") || !strings.Contains(err.Error(), "give --voters 2160000 or more") {
		t.Errorf("a voter short: %v; want the voters it needs", err)
	}
	// A signal (ctx cancelled) stops the check of the batcher's flags.
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := abConfig(cancelled, "ab", set, abFlags{b: "BATCHER_LEDGER_LAG=-1s", rates: "2000", d: time.Minute, rounds: 1}, 3_000_000, bin); !errors.Is(err, context.Canceled) {
		t.Errorf("with its ctx cancelled: %v; want context.Canceled", err)
	}
	for _, flag := range []string{"ab-rounds", "ab-warmup"} {
		if _, err := abConfig(t.Context(), "", map[string]bool{flag: true}, abFlags{rates: "2000", d: time.Minute, rounds: 3}, 3_000_000, bin); err == nil || !strings.Contains(err.Error(), "--"+flag+" goes with --only ab") {
			t.Errorf("--%s without --only ab: %v", flag, err)
		}
	}
	reports := t.TempDir()
	err = run(context.Background(), []string{"--min-free-gb", "0", "--reports", reports, "--dir", filepath.Join(t.TempDir(), "bench"), "--ab-env", "BATCHER_LEDGER_LAG=-1s"})
	if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--ab-env goes with --only ab") {
		t.Errorf("--ab-env without --only ab: %v", err)
	}
	// --quick's 1,000,000 voters against the default A/B's (2,000 +
	// 2,500)/s × 4 × (60 s + 15 s warm-up).
	err = run(context.Background(), []string{"--min-free-gb", "0", "--reports", reports, "--dir", filepath.Join(t.TempDir(), "bench"), "--quick", "--only", "ab", "--ab-env", "BATCHER_LEDGER_LAG=-1s"})
	if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "the intake has 1000000: give --voters 1350000 or more") {
		t.Errorf("--quick --only ab: %v; want too few voters", err)
	}
	if entries, _ := os.ReadDir(reports); len(entries) > 0 {
		t.Errorf("a refused run made %s", entries[0].Name())
	}
}

// interruptedBy is a context as cli.Main's is once sig has arrived: ended,
// its cause a cli.Interrupted naming sig; for sig 0, one still running.
func interruptedBy(t *testing.T, sig syscall.Signal) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	if sig != 0 {
		cancel(cli.Interrupted{Signal: sig})
	}
	return ctx
}

// TestReportFolderTakesTheFirstFreeName: a run's report folder is the
// name itself, else the first free of name-run2, -run3, …, made empty,
// so an earlier report of the same day (name and name-run3 here, holding
// report.md) is never written into.
func TestReportFolderTakesTheFirstFreeName(t *testing.T) {
	reports := filepath.Join(t.TempDir(), "reports") // not made yet, as in a fresh clone
	const name = "2026-12-07-2cpu-vm"
	for _, want := range []string{name, name + "-run2"} {
		got, err := reportFolder(reports, name)
		if err != nil || got != filepath.Join(reports, want) {
			t.Fatalf("reportFolder: %q, %v; want %q", got, err, filepath.Join(reports, want))
		}
		if err := os.WriteFile(filepath.Join(got, "report.md"), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(reports, name+"-run3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := reportFolder(reports, name); err != nil || got != filepath.Join(reports, name+"-run4") {
		t.Errorf("reportFolder with name to name-run3 taken: %q, %v; want %q", got, err, filepath.Join(reports, name+"-run4"))
	}
	for _, taken := range []string{name, name + "-run2"} {
		if data, err := os.ReadFile(filepath.Join(reports, taken, "report.md")); err != nil || string(data) != taken {
			t.Errorf("the earlier report in %s: %q, %v; want it kept", taken, data, err)
		}
	}
}

// TestRefusedRunLeavesNoReportFolder: a run refused for its run folder
// (--fresh or not, a --dir no votechain command made, whose file stays;
// --fresh=false, a system kept there from another --port-base) is refused
// before it makes its report's folder, so that even a --reports under a
// file, where none can be made, gets the refusal; one that fails after
// making it (its log file cannot be made) removes it, empty, again. The
// reports folder holds only the empty folder it held before. Each run
// ends before any system starts, with or without the fix.
func TestRefusedRunLeavesNoReportFolder(t *testing.T) {
	clitest.ClearEnv(t, stack.EnvPrefixes()...)
	reports := t.TempDir()
	if err := os.Mkdir(filepath.Join(reports, "earlier"), 0o755); err != nil { // an earlier run's, empty
		t.Fatal(err)
	}
	runIn := func(dir string, args ...string) error {
		return run(t.Context(), append([]string{"--min-free-gb", "0", "--port-base", "20000", "--reports", reports, "--dir", dir,
			"--election", "../../config/election.json", "--contests-election", "../../config/referendum.json"}, args...))
	}
	foreign := filepath.Join(t.TempDir(), "home")
	thesis := rundirtest.Foreign(t, foreign)
	rundirtest.Refused(t, "--fresh", runIn(foreign), thesis)
	rundirtest.Refused(t, "--fresh=false", runIn(foreign, "--fresh=false"), thesis)
	rundirtest.Refused(t, "--fresh with --reports under a file", runIn(foreign, "--reports", filepath.Join(thesis, "reports")), thesis)

	kept := filepath.Join(t.TempDir(), "bench")
	data, err := json.Marshal(map[string]any{"port_base": 30000, "consensus": "bft"})
	if err == nil {
		err = rundir.Make(kept, nil, nil)
	}
	if err == nil {
		err = os.Mkdir(stack.NetworkDir(kept), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(stack.NetworkDir(kept), "state.json"), data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := runIn(kept, "--fresh=false"); err == nil || !strings.Contains(err.Error(), "was made with --port-base 30000") {
		t.Errorf("--fresh=false on a system kept from --port-base 30000: %v; want it refused", err)
	}

	noLog := filepath.Join(t.TempDir(), "bench")
	if err := os.MkdirAll(noLog+".log", 0o755); err != nil { // the run's log file cannot be made there
		t.Fatal(err)
	}
	if err := runIn(noLog); err == nil || !strings.Contains(err.Error(), noLog+".log") {
		t.Errorf("a --dir whose log file cannot be made: %v; want it to fail naming the log", err)
	}

	entries, _ := os.ReadDir(reports)
	if names := dirNames(entries); !slices.Equal(names, []string{"earlier"}) {
		t.Errorf("the reports folder after the refused runs holds %q; want only the earlier run's %q", names, "earlier")
	}
}

// dirNames are the names of entries.
func dirNames(entries []os.DirEntry) []string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}
