package rundir_test

import (
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
)

// TestProjectTools: in the project, votechain's and vcnet's advice names
// make's targets for their make folders (.run, .run/network) and the
// program with --dir for another folder; each call returns a new Tool, so
// a caller that changes its targets changes no one else's.
func TestProjectTools(t *testing.T) {
	rundirtest.Project(t)
	for _, c := range []struct {
		tool  func() rundir.Tool
		dir   string
		words []string
		want  string
	}{
		{rundir.Votechain, ".run", []string{"down", "--wipe"}, "`make down WIPE=1`"},
		{rundir.Votechain, ".run", []string{"status"}, "`make status`"},
		{rundir.Votechain, ".run", []string{"up", "--redis", "cluster"}, "`make up REDIS=cluster`"},
		{rundir.Votechain, ".run/bench", []string{"down"}, "`bin/votechain --dir .run/bench down`"},
		{rundir.Vcnet, ".run/network", []string{"down", "--force"}, "`make network-down FORCE=1`"},
		{rundir.Vcnet, ".run/network", []string{"up"}, "`make network-up`"},
		{rundir.Vcnet, ".run/deploy", []string{"down", "--wipe"}, "`bin/vcnet --dir .run/deploy down --wipe`"},
	} {
		if got := c.tool().Command(c.dir, 0, c.words...); got != c.want {
			t.Errorf("%s Command(%q, %q) = %s, want %s", c.tool().Name, c.dir, c.words, got, c.want)
		}
	}
	for _, tool := range []func() rundir.Tool{rundir.Votechain, rundir.Vcnet} {
		changed := tool()
		delete(changed.MakeTargets, "down")
		if _, ok := tool().MakeTargets["down"]; !ok {
			t.Errorf("%s: deleting a target from one Tool deleted it from the next call's", changed.Name)
		}
	}
}
