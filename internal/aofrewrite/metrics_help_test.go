package aofrewrite_test

import (
	"testing"

	"github.com/votechain/votechain/internal/aofrewrite"
	"github.com/votechain/votechain/internal/promhelp"
)

// TestMetricHelpSaysUnits: every metric the AOF rewriter registers has a help text
// that states its unit or what it counts (promhelp.Rules).
func TestMetricHelpSaysUnits(t *testing.T) {
	var r promhelp.Recorder
	aofrewrite.New(nil, aofrewrite.WithRegisterer(&r))
	promhelp.Check(t, r.Metrics(), 2)
}
