package monitor

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/config"
)

// TestClockRunbooksGiveTheNTPFix: each alert whose runbook tells the
// operator to fix a machine's clock (one naming timedatectl) gives
// ballot.NTPFix, the fix every log line and error about a clock off gives,
// word for word (the runbook writes the commands and what they print in
// backquotes), so that a change to the fix reaches every runbook; the four
// alerts known to report a clock off are among them.
func TestClockRunbooksGiveTheNTPFix(t *testing.T) {
	rules, err := ParseRules(config.AlertRules())
	if err != nil {
		t.Fatal(err)
	}
	clock := map[string]bool{}
	for _, r := range rules {
		runbook := r.Annotations["runbook"]
		if !strings.Contains(runbook, "timedatectl") {
			continue
		}
		clock[r.Alert] = true
		if !strings.Contains(strings.ReplaceAll(runbook, "`", ""), ballot.NTPFix) {
			t.Errorf("the runbook of %s, its backquotes removed, does not contain ballot.NTPFix:\n%s\nwant it to contain:\n%s", r.Alert, runbook, ballot.NTPFix)
		}
	}
	for _, alert := range []string{"BatchCommitsFailing", "GatewayClockAhead", "VotesRejectedCastAfterTx", "IntakeLogUnanchored"} {
		if !clock[alert] {
			t.Errorf("alert %s is not in alerts.yml with a runbook naming timedatectl", alert)
		}
	}
}
