// Package logprogress draws the progress of an intake log check
// (logmonitor.Monitor.Check), the longest step of `verify --log` and of
// `votechain finalise`: a first check of a long log reads every entry and
// batch, and takes a while.
package logprogress

import (
	"io"

	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/internal/cli"
)

// Label begins every progress line of the check.
const Label = "checking intake logs (entries and votes read)"

// Show makes m's checks draw on w a moving count of the log entries and
// ledger votes read so far (logmonitor.Monitor.Progressed, told after each
// page of entries and each batch, so a large state moves too; cli.Progress
// with no total: the count, rate and time taken, redrawn in place on a
// terminal, else a line at most every ten seconds), and returns the bar, to
// Finish once the check returns. A nil w draws nothing: Show leaves m alone
// and returns nil, whose Finish does nothing.
func Show(w io.Writer, m *logmonitor.Monitor) *cli.Progress {
	if w == nil {
		return nil
	}
	bar := cli.NewProgress(w, Label, 0)
	m.Progressed = func(read uint64) { bar.Set(int64(read), 0) }
	return bar
}
