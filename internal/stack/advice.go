package stack

import "github.com/votechain/votechain/internal/rundir"

// DefaultDir is the run folder of make up's system: votechain's default
// --dir, relative to the working directory (make runs it in the project's).
const DefaultDir = ".run"

// votechain is the votechain program, whose make targets act on the
// system in DefaultDir.
var votechain = rundir.Tool{Name: "votechain", MakeDir: DefaultDir, MakeTargets: map[string]string{
	"up":          "make up",
	"down":        "make down",
	"down --wipe": "make down WIPE=1",
	"status":      "make status",
}}

// Command is the command line, in backquotes, that runs the votechain
// command words ("down", "--wipe") on the system in the run folder dir
// with port base portBase (0: the recorded one), for advice in messages:
// the make target only for make's system in the project (.run, default
// ports), else votechain with dir and a non-default port base written out
// (rundir.Tool.Command), so that advice about another folder (.run/bench)
// never sends the operator to make's system (a wipe of the live election).
func Command(dir string, portBase int, words ...string) string {
	return votechain.Command(dir, portBase, words...)
}
