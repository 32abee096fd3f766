package follow_test

import (
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/explorer/audit"
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

// TestVerificationFailuresHaveASeriesPerKind: every kind the auditor can
// report has its explorer_verification_failures series from the start,
// holding the index's count of that kind (0 when it has none), and no
// other series exists.
func TestVerificationFailuresHaveASeriesPerKind(t *testing.T) {
	reg := prometheus.NewRegistry()
	indexed := map[string]int64{audit.KindReplay: 2, audit.KindApproval: 1}
	follow.NewMetrics(reg, 0, indexed)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "explorer_verification_failures" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	want := map[string]float64{}
	for _, k := range audit.Kinds() {
		want[k] = float64(indexed[k])
	}
	if !maps.Equal(got, want) {
		t.Errorf("explorer_verification_failures series %v; want %v", got, want)
	}
}
