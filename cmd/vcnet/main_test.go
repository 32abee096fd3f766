package main

import (
	"testing"

	"github.com/votechain/votechain/internal/cli/clitest"
)

// TestUsageErrors: no command, an unknown consensus and a port base out of
// range are usage errors (status 2) naming what to give, as votechain's
// (they exited 1); so are words after the command and a flag of one
// command given to another, named (they were ignored).
func TestUsageErrors(t *testing.T) {
	clitest.UsageErrors(t, run, []string{"vcnet", "--dir", t.TempDir()}, []clitest.UsageCase{
		{Args: nil, Want: "no command given"},
		{Args: []string{"bogus"}, Want: `unknown command "bogus"`},
		{Args: []string{"status", "extra"}, Want: `status takes no arguments, but was given ["extra"]`},
		{Args: []string{"down", "up"}, Want: `down takes no arguments, but was given ["up"]`},
		{Args: []string{"status", "--wipe"}, Want: "--wipe goes with down, not with status"},
		{Args: []string{"--json", "down"}, Want: "--json goes with status, not with down"},
		{Args: []string{"status", "--profile", "admin.json"}, Want: "--profile goes with probe, not with status"},
		{Args: []string{"down", "--hosts", "commission=10.0.0.2", "--bundle-root", "/opt"}, Want: "--bundle-root goes with bundles, not with down\n--hosts goes with bundles, not with down"},
		{Args: []string{"up", "--consensus", "paxos"}, Want: `--consensus: unknown consensus "paxos": choose "bft" or "raft"`},
		{Args: []string{"--port-base", "70000", "status"}, Want: "--port-base: port base 70000 out of range: choose 1025..65000"},
	})
	t.Setenv("VCNET_WIPE", "true") // deletion is asked on the command line alone
	clitest.UsageErrors(t, run, []string{"vcnet", "--dir", t.TempDir()}, []clitest.UsageCase{
		{Args: []string{"down"}, Want: "$VCNET_WIPE is set, but --wipe is taken from the command line only"},
	})
}
