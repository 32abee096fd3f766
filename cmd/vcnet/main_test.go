package main

import (
	"testing"

	"github.com/votechain/votechain/internal/cli/clitest"
)

// TestUsageErrors: no command, an unknown consensus and a port base out of
// range are usage errors (status 2) naming what to give, as votechain's
// (they exited 1).
func TestUsageErrors(t *testing.T) {
	clitest.UsageErrors(t, run, []string{"vcnet", "--dir", t.TempDir()}, []clitest.UsageCase{
		{Args: nil, Want: "no command given"},
		{Args: []string{"bogus"}, Want: `unknown command "bogus"`},
		{Args: []string{"up", "--consensus", "paxos"}, Want: `--consensus: unknown consensus "paxos": choose "bft" or "raft"`},
		{Args: []string{"--port-base", "70000", "status"}, Want: "--port-base: port base 70000 out of range: choose 1025..65000"},
	})
	t.Setenv("VCNET_WIPE", "true") // deletion is asked on the command line alone
	clitest.UsageErrors(t, run, []string{"vcnet", "--dir", t.TempDir()}, []clitest.UsageCase{
		{Args: []string{"down"}, Want: "$VCNET_WIPE is set, but --wipe is taken from the command line only"},
	})
}
