package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/proc"
)

// BatcherEnvPrefix is the prefix of the environment variables that set the
// batcher's flags (cli.EnvName).
const BatcherEnvPrefix = "BATCHER"

// RestartBatchers stops the system's batchers (SIGTERM: each commits what it
// has in flight and releases its lanes) and starts them again with env, each
// NAME=value, added to the environment they inherit, after it: a name this
// process's environment sets too takes env's value. No env starts them as Up
// does. It refuses an entry that would not reach a batcher's flags: not
// NAME=value, not BATCHER_…, or a flag the stack passes on the command line
// (which wins over the environment); CheckBatcherEnv also catches names of
// no batcher flag.
func (s *Stack) RestartBatchers(ctx context.Context, env ...string) error {
	var specs []proc.Spec
	for _, sp := range s.services() {
		if strings.HasPrefix(sp.Name, "batcher") {
			sp.Env = env
			specs = append(specs, sp)
		}
	}
	for _, sp := range specs {
		for _, kv := range env {
			name, _, ok := strings.Cut(kv, "=")
			if !ok || !strings.HasPrefix(name, BatcherEnvPrefix+"_") {
				return fmt.Errorf("batcher environment %q: give NAME=value with a name %s_…", kv, BatcherEnvPrefix)
			}
			if slices.Contains(passedFlags(sp.Args), name) {
				return fmt.Errorf("batcher environment %s: the stack passes that flag to %s on its command line, which wins over the environment", name, sp.Name)
			}
		}
	}
	for _, sp := range specs {
		if id, ok := s.pids[sp.Name]; ok {
			if _, err := s.stop.service(id, sp.Bin, s.cfg.Dir, sp.Name); err != nil {
				return fmt.Errorf("restart %s: %w", sp.Name, err)
			}
			delete(s.pids, sp.Name)
		}
	}
	if err := s.save(); err != nil {
		return err
	}
	return s.startIfStopped(ctx, specs)
}

// passedFlags names the environment variables of the flags in args (each
// --name followed by its value), which the command line sets.
func passedFlags(args []string) []string {
	var names []string
	for _, a := range args {
		if f, ok := strings.CutPrefix(a, "--"); ok {
			names = append(names, cli.EnvName(BatcherEnvPrefix, f))
		}
	}
	return names
}

// CheckBatcherEnv returns a usage error (cli.ErrUsage) naming each entry
// of env (NAME=value) whose name is not the environment variable of a flag
// of the batcher in binDir (as its --help lists them, cli.CommandFlags): a
// misspelt name would change nothing. A batcher it cannot ask is another
// error, saying to build it.
func CheckBatcherEnv(ctx context.Context, binDir string, env []string) error {
	bin := filepath.Join(binDir, "batcher")
	flags, err := cli.CommandFlags(ctx, bin)
	if err != nil {
		return fmt.Errorf("%w (run `make build`)", err)
	}
	known := make([]string, len(flags))
	for i, f := range flags {
		known[i] = cli.EnvName(BatcherEnvPrefix, f.Name)
	}
	var unknown []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		return cli.Usagef("%s: no flag of %s reads it (it reads %s)", strings.Join(unknown, ", "), bin, strings.Join(known, " "))
	}
	return nil
}
