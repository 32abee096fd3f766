package verify

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// TestLogStateUnsavedKeepsAFailure: a LogState file that cannot be
// written (its folder does not exist) is a *LogStateError naming the file,
// returned with the outcomes found: a failure the run found (a MISSING
// entry) stands, as the exit-status table says ("whatever else the run
// found or could not check"). The old code exited 2 either way.
func TestLogStateUnsavedKeepsAFailure(t *testing.T) {
	key, keys := registeredKey(t)
	votes := caVotes(5, 0)
	anchored := acceptanceOf(t, logOf(votes), votes, 0, 5, key).Head
	for name, c := range map[string]struct {
		batched int // of the votes, the first ones
		verdict Verdict
		out     string
	}{
		"an entry MISSING":  {4, Failed, "1 MISSING"},
		"every entry found": {5, Passed, "0 MISSING"},
	} {
		t.Run(name, func(t *testing.T) {
			batch, err := ballot.BuildBatch("CA", 1, votes[:c.batched])
			if err != nil {
				t.Fatal(err)
			}
			ledger := headedLedger{headlessLedger: headlessLedger{batch: batch}, head: anchored, keys: keys}
			path := filepath.Join(t.TempDir(), "gone", "heads.json")
			state := &LogState{path: path, seen: map[string]ballot.TreeHead{}}
			verdict, out, err := runLogCheck(t, votes, ledger, state)
			var stateErr *LogStateError
			if verdict != c.verdict || !strings.Contains(out, c.out) || !errors.As(err, &stateErr) || stateErr.Path != path || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("verdict %v, error %v, stdout:\n%s\nwant %v, %q, and the LogStateError of %s", verdict, err, out, c.verdict, c.out, path)
			}
		})
	}
}
