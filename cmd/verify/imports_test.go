package main

import (
	"testing"

	"github.com/votechain/votechain/internal/importcheck"
)

// TestImportsNotWhatItChecks: verify checks the work of the gateway, the
// batcher and the chaincode with ballot's rules alone (explorer/verify,
// explorer/logmonitor), reading the ledger through network's client, so it
// links none of their packages: a check that ran the checked code would
// agree with its bugs. Like roll, it runs on a machine apart from the
// system's (verify an auditor's, roll an official's); verify advises with
// flags (--peer, --gateway), roll with commands, so it links none of the
// packages that run the system either (internal/stack,
// test-network/localnet, internal/monitor: the system's and the network's
// runners, the monitors).
func TestImportsNotWhatItChecks(t *testing.T) {
	importcheck.Check(t, ".", importcheck.Rule{
		Reaches: []string{"explorer/verify", "network/fabricblock"},
		Forbidden: []string{"gateway/...", "batcher/...", "chaincode/...",
			"internal/stack", "test-network/localnet", "internal/monitor"},
	})
}
