package suite

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

// TestWhyWithoutACeiling: an intake-only run (benchrun --only intake)
// drives no ledger ceiling, so the report's reading of its saturation
// table says so instead of quoting a ceiling of 0 votes/s and a drain at
// 0.00 of it; a full run still quotes both.
func TestWhyWithoutACeiling(t *testing.T) {
	rep := func() *report.Report {
		return &report.Report{
			Machine: measure.Machine{CPUs: 2},
			Saturation: []report.Saturation{
				{Phase: "ramp", Machine: 2, Ledger: 0.8, Intake: 1},
				{Phase: "sustained", Machine: 2, Ledger: 1.1, Intake: 0.6},
				{Phase: "drain", Machine: 2, Ledger: 1.8},
				{Phase: "ceiling", Machine: 2, Ledger: 1.7},
			},
		}
	}
	only := &run{rep: rep(), book: measure.NewCPUBook(nil)}
	why := only.why()
	if !strings.Contains(why, "the ledger ceiling was not driven in this run") {
		t.Errorf("intake-only reading does not say the ceiling was not driven:\n%s", why)
	}
	for _, wrong := range []string{"driven directly, was 0 votes/s", "of the ceiling"} {
		if strings.Contains(why, wrong) {
			t.Errorf("intake-only reading quotes a ceiling it did not measure (%q):\n%s", wrong, why)
		}
	}
	full := &run{rep: rep(), book: measure.NewCPUBook(nil)}
	full.rep.Ceiling.CountedPerS = 9000
	full.rep.Pace21.DrainOverCeiling = 1.1
	why = full.why()
	for _, want := range []string{"driven directly, was 9000 votes/s", "at the ceiling the ledger side held 1.70", "(1.10 of the ceiling)"} {
		if !strings.Contains(why, want) {
			t.Errorf("full reading lacks %q:\n%s", want, why)
		}
	}
}
