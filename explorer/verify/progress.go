package verify

// Progress is told of work as it is done: Add(n) records n more units (a
// progress bar, such as the command's).
type Progress interface {
	Add(n int64)
}

// Bar is the Progress of one step of a check: Add or Set (done units of
// total; 0: not known) record the work done, and Finish ends it once the
// step is over. The command's progress bar (*cli.Progress) is one.
type Bar interface {
	Progress
	Set(done, total int64)
	Finish()
}

// Step names a step of MonitorLog that draws its progress.
type Step int

// MonitorLog's steps with a Bar.
const (
	// CheckingLogs is the check of the logs against the ledger
	// (logmonitor.Monitor.Check): Set is told of the log entries and
	// ledger votes read so far, of no known total.
	CheckingLogs Step = iota
	// LocatingDuplicates is the reading of where the nullifiers of the
	// entries rejected as duplicates were counted, for more than
	// ProgressFrom: Add is told of each, of their total.
	LocatingDuplicates
)

// ProgressFrom is the most units of work a step may have without drawing
// its progress: a step of more draws it (LocatingDuplicates' look-ups;
// verify's bar of the receipts it checks).
const ProgressFrom = 20

// Bars starts the Bar of a step of a check, for total units (0: not
// known). A check given nil Bars draws no progress.
type Bars func(step Step, total int64) Bar

// start is the Bar of step from b, or one that draws nothing when b is
// nil (or gives nil).
func (b Bars) start(step Step, total int64) Bar {
	if b == nil {
		return noBar{}
	}
	if bar := b(step, total); bar != nil {
		return bar
	}
	return noBar{}
}

// noBar is a Bar that draws nothing.
type noBar struct{}

func (noBar) Add(int64)        {}
func (noBar) Set(int64, int64) {}
func (noBar) Finish()          {}
