package suite

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
)

// TestKeptRunFolderAtAnotherPortBase: a run without --fresh on a run
// folder whose system was made with another --port-base is refused before
// anything starts, deleting nothing, with benchrun's advice (drop
// --fresh=false, or give the base it was made with), not localnet's (leave
// --port-base out, or wipe the network alone with vcnet), and so is an
// extra network a run left in a ceiling-* folder, 400 above its base; at
// the base it was made with the run folder is taken.
func TestKeptRunFolderAtAnotherPortBase(t *testing.T) {
	clitest.ClearEnv(t, stack.EnvPrefixes()...) // prepare opens no system for the environment's check
	dir := filepath.Join(t.TempDir(), "bench")
	if err := rundir.Make(dir, nil, nil); err != nil {
		t.Fatal(err)
	}
	makeDirs(t, dir, "network", "ceiling-raft")
	state := filepath.Join(dir, "network", "state.json")
	writeRecord(t, state, map[string]any{"port_base": 30000, "consensus": "bft"})
	writeRecord(t, filepath.Join(dir, "ceiling-raft", "state.json"), map[string]any{"port_base": 30400, "consensus": "raft"})
	bin := t.TempDir()
	kept := func(base int) *run {
		return &run{cfg: Config{Progress: &bytes.Buffer{}, Stack: StackConfig{Dir: dir, PortBase: base, BinDir: bin, FabricBin: bin, Election: bin}}, rep: &report.Report{}}
	}
	want := "this run folder, " + dir + ", was made with --port-base 30000"
	advice := "not 31800: drop --fresh=false to wipe it, or give --port-base 30000"
	err := kept(DefaultPortBase).prepare(t.Context())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), advice) {
		t.Errorf("prepare at another base: %v; want it refused, with %q and %q", err, want, advice)
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("the kept system's record after the refusal: %v; want it kept", err)
	}
	if err := kept(30000).prepare(t.Context()); err != nil {
		t.Errorf("prepare at the base the folder was made with: %v", err)
	}
	err = kept(DefaultPortBase).onExtra(t.Context(), network.Raft, "ceiling-raft", ballot.Election{}, nil, nil, func(ledgerUnderTest, *report.Warmup) {
		t.Error("the extra network was brought up")
	})
	if err == nil || !strings.Contains(err.Error(), want+" ("+filepath.Join(dir, "ceiling-raft", "state.json")+" records port base 30400)") || !strings.Contains(err.Error(), advice) {
		t.Errorf("an extra network left at another base: %v; want it refused, with %q and %q", err, want, advice)
	}
}
