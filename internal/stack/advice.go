package stack

import "github.com/votechain/votechain/internal/rundir"

// DefaultDir is the run folder of make up's system: votechain's default
// --dir, relative to the working directory (make runs it in the project's).
const DefaultDir = rundir.SystemDir

// Command is the command line, in backquotes, that runs the votechain
// command words ("down", "--wipe") on the system in the run folder dir
// with port base portBase (0: the recorded one), for advice in messages:
// the make target only for make's system in the project (.run, default
// ports), else votechain with dir and a non-default port base written out
// (rundir.Votechain's Command), so that advice about another folder
// (.run/bench) never sends the operator to make's system (a wipe of the
// live election).
func Command(dir string, portBase int, words ...string) string {
	return rundir.Votechain().Command(dir, portBase, words...)
}
