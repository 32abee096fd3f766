package main

import (
	"testing"

	"github.com/votechain/votechain/internal/cli/clitest"
)

// TestUsageErrors: each mistake is a usage error (status 2) naming the
// flag, refused before anything starts; up's own settings (the roll, the
// window, the process counts, the template) were taken and failed only at
// the end of a bring-up of minutes, --port-base and --redis exited 1.
// Another command does not judge up's settings.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	clitest.UsageErrors(t, run, []string{"votechain", "--dir", dir}, []clitest.UsageCase{
		{Args: nil, Want: "no command given"},
		{Args: []string{"bogus"}, Want: `unknown command "bogus"`},
		{Args: []string{"--port-base", "-5", "status"}, Want: "--port-base: port base -5 out of range: choose 1025..65000"},
		{Args: []string{"--redis", "clustered", "up"}, Want: `--redis: redis "clustered": want single or cluster`},
		{Args: []string{"--voters", "0", "up"}, Want: "--voters is 0: a new election's roll needs at least 1 voter"},
		{Args: []string{"--window", "-1h", "up"}, Want: "--window is -1h0m0s: it must be at least 1s"},
		{Args: []string{"--window", "abc", "up"}, Want: `invalid value "abc" for flag -window: want a duration such as 90s, 5m or 1h30m`},
		{Args: []string{"--batchers", "-1", "up"}, Want: "--batchers -1, --gateways 0: give a count"},
		{Args: []string{"--gateways", "-2", "up"}, Want: "--batchers 0, --gateways -2"},
		{Args: []string{"--election", dir + "/missing.json", "up"}, Want: "--election: election template: open " + dir + "/missing.json: no such file or directory"},
	})
	// Deleting data and accepting unlogged votes are asked on the command
	// line alone: a variable left set in the shell is refused, not applied.
	for _, env := range []string{"VOTECHAIN_WIPE", "VOTECHAIN_ACCEPT_UNLOGGED"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "1")
			clitest.UsageErrors(t, run, []string{"votechain", "--dir", dir}, []clitest.UsageCase{
				{Args: []string{"down"}, Want: "$" + env + " is set, but --"},
				{Args: []string{"finalise"}, Want: "from the command line only"},
			})
		})
	}
	if err := clitest.Run(t, run, "votechain", "--dir", dir, "--voters", "0", "down"); err != nil {
		t.Errorf("down with --voters 0: %v; want it stopped (nothing runs)", err)
	}
}
