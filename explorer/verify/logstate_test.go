package verify

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// TestLogStateUnsavedKeepsAFailure: a --log-state file that cannot be
// written (its folder does not exist) is an error naming the flag, and
// the run's status is 2 (not complete) when nothing failed, but a failure
// the run found (a MISSING entry) stands: status 1, as the exit-status
// table says ("whatever else the run found or could not check"). The old
// code exited 2 either way.
func TestLogStateUnsavedKeepsAFailure(t *testing.T) {
	key, keys := registeredKey(t)
	votes := caVotes(5, 0)
	anchored := acceptanceOf(t, logOf(votes), votes, 0, 5, key).Head
	for name, c := range map[string]struct {
		batched int // of the votes, the first ones
		code    int
		out     string
	}{
		"an entry MISSING":  {4, StatusFailed, "1 MISSING"},
		"every entry found": {5, StatusIncomplete, "0 MISSING"},
	} {
		t.Run(name, func(t *testing.T) {
			batch, err := ballot.BuildBatch("CA", 1, votes[:c.batched])
			if err != nil {
				t.Fatal(err)
			}
			ledger := headedLedger{headlessLedger: headlessLedger{batch: batch}, head: anchored, keys: keys}
			state := &LogState{path: filepath.Join(t.TempDir(), "gone", "heads.json"), seen: map[string]ballot.TreeHead{}}
			code, out, err := runLogCheck(t, votes, ledger, state)
			if code != c.code || !strings.Contains(out, c.out) || !errorSays(err, "--log-state: ") {
				t.Errorf("status %d, error %v, stdout:\n%s\nwant %d, %q, and the --log-state error", code, err, out, c.code, c.out)
			}
		})
	}
}
