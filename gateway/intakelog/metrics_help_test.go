package intakelog

import (
	"testing"

	"github.com/votechain/votechain/internal/promhelp"
)

// TestMetricHelpSaysUnits: every metric the intake log registers has a help text
// that states its unit or what it counts (promhelp.Rules).
func TestMetricHelpSaysUnits(t *testing.T) {
	var r promhelp.Recorder
	newMetrics(&r)
	promhelp.Check(t, r.Metrics(), 6)
}
