package monitor

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/config"
)

// TestClockRunbooksGiveTheNTPFix: each alert whose runbook tells the
// operator to fix a machine's clock gives ballot.NTPFix, the fix every
// log line and error about a clock off gives, word for word (the runbook
// writes the commands and what they print in backquotes), so that a
// change to the fix reaches every runbook.
func TestClockRunbooksGiveTheNTPFix(t *testing.T) {
	rules, err := ParseRules(config.AlertRules())
	if err != nil {
		t.Fatal(err)
	}
	runbooks := map[string]string{}
	for _, r := range rules {
		runbooks[r.Alert] = r.Annotations["runbook"]
	}
	for _, alert := range []string{"BatchCommitsFailing", "GatewayClockAhead", "VotesRejectedCastAfterTx", "IntakeLogUnanchored"} {
		runbook, ok := runbooks[alert]
		if !ok {
			t.Errorf("no alert %s in alerts.yml", alert)
			continue
		}
		if !strings.Contains(strings.ReplaceAll(runbook, "`", ""), ballot.NTPFix) {
			t.Errorf("the runbook of %s, its backquotes removed, does not contain ballot.NTPFix:\n%s\nwant it to contain:\n%s", alert, runbook, ballot.NTPFix)
		}
	}
}
