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
const Label = "checking intake logs (states)"

// Show makes m's checks draw on w how many of the election's states are
// checked (logmonitor.Monitor.StateChecked; cli.Progress: a bar redrawn in
// place on a terminal, else a line at most every ten seconds), and returns
// the bar, to Finish once the check returns. A nil w draws nothing: Show
// leaves m alone and returns nil, whose Finish does nothing.
func Show(w io.Writer, m *logmonitor.Monitor) *cli.Progress {
	if w == nil {
		return nil
	}
	bar := cli.NewProgress(w, Label, 0)
	m.StateChecked = func(done, total int) { bar.Set(int64(done), int64(total)) }
	return bar
}
