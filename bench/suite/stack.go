package suite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
)

// StackConfig says where the benchmark's own system lives.
type StackConfig struct {
	Dir       string // run folder, e.g. .run/bench (apart from make up's .run)
	PortBase  int
	BinDir    string
	FabricBin string
	Builder   string // the external chaincode builder (default network.BuilderDir)
	Election  string // election template (config/election.json)
	Voters    int    // roll size of a new election, DriverVoters included
	// DriverVoters of the roll (the same share of each state's voters) are
	// kept for the ledger drives, so the sealed roll counts their votes;
	// the intake phases cast the rest.
	DriverVoters   int
	LedgerPriority proc.Priority // the ledger side's CPU priority (stack.Config.LedgerPriority)
	Log            *slog.Logger
}

func (c StackConfig) builder() string {
	if c.Builder == "" {
		return network.BuilderDir
	}
	return c.Builder
}

// stackConfig is the configuration of the benchmark's system (StartStack).
func (c StackConfig) stackConfig() stack.Config {
	return stack.Config{
		Dir: c.Dir, PortBase: c.PortBase, BinDir: c.BinDir, FabricBin: c.FabricBin, Builder: c.builder(),
		Election: c.Election, Window: benchWindow, Voters: c.Voters, Batchers: 1, LedgerPriority: c.LedgerPriority, Log: c.Log,
	}
}

// benchWindow is the voting window of the benchmark's election: long, so a
// kept stack can be benchmarked again another day.
const benchWindow = 30 * 24 * time.Hour

// StartStack brings the benchmark's system up (idempotent); if that fails
// it stops the whole system: what the attempt started and, in a run folder
// kept from an earlier run (--fresh=false), what already ran there. On the first
// bring-up it writes a roll skewed by state population (loadgen.WriteRoll)
// where the stack looks for its roll, so the stack loads that roll instead
// of its round-robin one.
func StartStack(ctx context.Context, cfg StackConfig) (*stack.Stack, error) {
	st, err := stack.New(cfg.stackConfig())
	if err != nil {
		return nil, err
	}
	if err := stack.MakeRunDir(cfg.Dir); err != nil { // before the roll is written there
		return nil, err
	}
	if _, err := os.Stat(st.RollCSV()); os.IsNotExist(err) {
		if err := writeSkewedRoll(st, cfg.Election, cfg.Voters); err != nil {
			return nil, err
		}
	}
	if err := st.Up(ctx); err != nil {
		// The system is stopped: a run that did not start measures
		// nothing, and its nodes would load the machine until the next
		// run wipes them.
		if derr := st.Down(false); derr != nil {
			err = errors.Join(err, fmt.Errorf("stop what came up: %w", derr))
		}
		return nil, fmt.Errorf("bench stack up: %w", err)
	}
	return st, nil
}

// writeSkewedRoll writes st's roll (st.WriteRoll): n voters over the
// template's states.
func writeSkewedRoll(st *stack.Stack, template string, n int) error {
	data, err := os.ReadFile(template)
	if err != nil {
		return fmt.Errorf("election template: %w", err)
	}
	var e struct {
		States []string `json:"states"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("election template %s: %w", template, err)
	}
	return st.WriteRoll(func(w io.Writer) error {
		return loadgen.WriteRoll(w, n, e.States, loadgen.Weights(e.States), uint64(time.Now().UnixNano()))
	})
}
