package follow_test

import (
	"testing"

	"github.com/votechain/votechain/explorer/follow"
	"github.com/votechain/votechain/internal/promhelp"
)

// TestMetricHelpSaysUnits: every metric the explorer's follower registers has a help text
// that states its unit or what it counts (promhelp.Rules).
func TestMetricHelpSaysUnits(t *testing.T) {
	var r promhelp.Recorder
	follow.NewMetrics(&r, 0, nil)
	promhelp.Check(t, r.Metrics(), 7)
}
