package results

import (
	"testing"

	"github.com/votechain/votechain/internal/promhelp"
)

// TestMetricHelpSaysUnits: every metric the results cache registers has a help text
// that states its unit or what it counts (promhelp.Rules).
func TestMetricHelpSaysUnits(t *testing.T) {
	promhelp.Check(t, promhelp.Describe(new(Cache)), 1)
}
