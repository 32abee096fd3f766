package suite

import (
	"fmt"

	"github.com/votechain/votechain/internal/stack"
)

// CheckRunDir refuses, stopping, deleting and making nothing, the run
// folder cfg.Stack.Dir when a run of cfg could not take it: one that holds
// files but no stack made (a mistyped --dir: stack.CheckRunDir), which
// --fresh would not wipe nor the run write into, and without cfg.Fresh a
// system kept there that was made with another --port-base (checkKept). A
// folder that does not exist yet is taken; a lone phase on a stack of its
// own (--only scaleout) takes no run folder's system and is never refused.
// Run refuses the same before it wipes or starts anything; a caller asks
// first to refuse the run before it makes anything of its own for it
// (benchrun: the report's folder).
func CheckRunDir(cfg Config) error {
	switch {
	case !cfg.onItsSystem():
		return nil
	case cfg.Fresh:
		return checkWipe(cfg.Stack.Dir)
	}
	if err := stack.CheckRunDir(cfg.Stack.Dir); err != nil {
		return err // as StartStack's stack.MakeRunDir would
	}
	return cfg.Stack.checkKept(stack.NetworkDir(cfg.Stack.Dir), 0)
}

// checkWipe refuses --fresh's wipe of the run folder dir when it holds
// files but no stack made it (stack.CheckRunDir); a folder that does not
// exist is taken.
func checkWipe(dir string) error {
	if err := stack.CheckRunDir(dir); err != nil {
		return fmt.Errorf("--fresh: %w", err)
	}
	return nil
}
