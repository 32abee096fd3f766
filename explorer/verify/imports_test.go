package verify

import (
	"testing"

	"github.com/votechain/votechain/internal/importcheck"
)

// TestImportsNoCommandLine: the package holds verify's checks, not its
// command line, so it links no internal/cli (flags, signals, progress
// bars), directly or through another of the module's packages: the
// command maps verdicts to exit statuses and passes its bars (Bars,
// Progress). The package imported internal/cli for the signals' exit
// statuses and the duplicates' bar, and internal/logprogress, which draws
// a cli.Progress.
func TestImportsNoCommandLine(t *testing.T) {
	importcheck.Check(t, ".", importcheck.Rule{
		Reaches:   []string{"explorer/logmonitor", "network/fabricblock"},
		Forbidden: []string{"internal/cli/..."},
	})
}
