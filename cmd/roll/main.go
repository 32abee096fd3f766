// Command roll manages the voter roll and the gateway's Redis dedup state.
//
// Usage:
//
//	roll gen -n N -states CA,NY [-o roll.csv]
//	    write a synthetic roll CSV (voter_id,credential,state)
//	roll load -csv roll.csv (-election TEMPLATE | -election-id ID -contests C1,C2) [-dry-run] [-redis-addr ADDR] [-secret-file F] [-bloom-fp-rate P]
//	    derive nullifiers (one per voter and contest), load them per state
//	    into Redis, size the Bloom filters, and print the roll's Merkle root
//	    and size, as the election record states them (JSON summary on
//	    stdout: roll_root, roll_entries)
//	roll publish -csv roll.csv -election TEMPLATE [-profile ADMIN_PROFILE] [-window 24h] (-log-public-key HEX | -log-key FILE)
//	    set the election up on the ledger (a new one from the template), write
//	    and seal the roll there, and register the gateways' intake log keys:
//	    the Commission admin's part of an election's set-up
//	roll log-key [-o FILE]
//	    create a gateway's intake log key (if missing) and print its public half
//	roll rebuild-bloom -states CA,NY [-profile P] [-redis-addr ADDR]
//	    set Bloom bits and mark voters as voted from the ledger's nullifiers
//	    (read through a peer, the states being the election's; or
//	    -nullifiers FILE for a CSV export state,nullifier)
//
// Flags may also be set by the environment (ROLL_<FLAG>); the shared flags
// (Redis, ledger, logging, the election secret) are internal/cli's. Progress
// goes to stderr. Ctrl-C or SIGTERM stops gen and load within a few thousand
// rows, saying how far they got: gen's -o file is written whole or not at
// all (its temporary copy is removed, and one a gen killed outright left is
// removed by the next gen -o of that file); a load stopped partway is
// finished by running it again.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/privatefile"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network"
)

const envPrefix = "ROLL"

const usage = `roll manages the voter roll and the gateway's Redis dedup state.

Commands:
  gen            write a synthetic roll CSV
  load           load a roll into Redis and print its Merkle root and size
  publish        set the election up on the ledger and seal its roll there (Commission admin)
  log-key        create a gateway's intake log key and print its public half
  rebuild-bloom  repopulate Bloom filters from the ledger's nullifiers

Run roll COMMAND -help for its flags.`

func main() {
	cli.SilenceRedis() // load and rebuild-bloom report Redis's errors
	cli.Main("roll", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout, os.Stderr) })
}

// run is roll with args: --help prints the usage (flag.ErrHelp); no
// command, an unknown one or a flag before the command is a usage error,
// after the usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"gen":           gen,
		"load":          load,
		"publish":       publish,
		"log-key":       logKey,
		"rebuild-bloom": rebuildBloom,
	}
	var cmd func(context.Context, []string, io.Writer, io.Writer) error
	if len(args) > 0 {
		cmd = cmds[args[0]]
	}
	if cmd == nil {
		fmt.Fprintln(stderr, usage)
	}
	switch {
	case len(args) == 0:
		return cli.Usagef("no command given")
	case cmd == nil && strings.HasPrefix(args[0], "-"):
		return cli.Usagef("%s before the command: flags follow it, as in roll load -csv FILE", args[0])
	case cmd == nil:
		return cli.Usagef("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// newFlags returns a flag set for a subcommand whose usage names it.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("roll "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = cli.Usage(fs, envPrefix, synopsis, "")
	return fs
}

// parse parses args, then the environment.
func parse(fs *flag.FlagSet, args []string) error { return cli.ParseFlags(fs, envPrefix, args) }

func gen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", "roll gen writes a synthetic roll CSV (voter_id,credential,state).", stderr)
	n := fs.Int("n", 1000, "number of voters")
	states := fs.String("states", "CA,NY", "comma-separated states, assigned round-robin")
	out := fs.String("o", "-", "output file, created with mode 0600 (it holds every credential) and written whole or not at all through a temporary copy .FILE.DIGITS.tmp beside it: a run that fails or is interrupted (Ctrl-C, SIGTERM) leaves FILE as it was and removes its copy, and the copy a run killed outright (SIGKILL) left is removed by the next run, which says so; - for stdout; a device or pipe (e.g. /dev/stdout) is written in place")
	logFlags := cli.LogFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return cli.Usagef("gen: -n must be at least 1, got %d: a roll lists its voters", *n)
	}
	stateList, err := parseStates("gen", *states)
	if err != nil {
		return err
	}
	log, err := logFlags.Logger(stderr)
	if err != nil {
		return err
	}
	progress := cli.NewProgress(stderr, "generating", int64(*n))
	defer progress.Finish()
	generate := func(w io.Writer) error { return roll.Generate(ctx, w, *n, stateList, progress) }
	if *out == "-" {
		if err := generate(stdout); err != nil {
			return fmt.Errorf("gen: %w; what went to stdout is an incomplete roll: discard it", err)
		}
		return nil
	}
	if st, err := os.Stat(*out); err == nil && !st.Mode().IsRegular() {
		// A device or pipe (/dev/stdout, a FIFO) cannot be replaced by a
		// rename: it is written in place.
		if err := writeInPlace(*out, generate); err != nil {
			return fmt.Errorf("gen: %w; what went to %s is an incomplete roll: discard it", err, *out)
		}
		return nil
	}
	if target, err := filepath.EvalSymlinks(*out); err == nil {
		*out = target // a symbolic link is written through, not replaced
	}
	// A roll gen killed outright (SIGKILL) left its temporary copy of the
	// roll, every credential in it: it goes now.
	privatefile.RemoveStale(*out, log)
	if err := privatefile.Write(*out, generate); err != nil {
		return fmt.Errorf("gen: %w; nothing was written to %s", err, *out)
	}
	return nil
}

// writeInPlace opens path, which is no regular file, for writing and
// writes it with write.
func writeInPlace(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = write(f)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// parseStates splits the -states value of command cmd, refusing, as a
// usage error naming the flag, an entry that is not a state code
// (ballot.ValidState; an empty one included) or one listed twice.
func parseStates(cmd, value string) ([]string, error) {
	states := strings.Split(value, ",")
	for i, st := range states {
		if !ballot.ValidState(st) {
			return nil, cli.Usagef("%s: state %q in -states is not a state code (2 to 8 characters of A-Z and 0-9, e.g. -states CA,NY)", cmd, st)
		}
		if slices.Contains(states[:i], st) {
			return nil, cli.Usagef("%s: state %s is listed twice in -states", cmd, st)
		}
	}
	return states, nil
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", "roll load derives nullifiers from a roll CSV, loads them per state into Redis, sizes the Bloom filters and prints the roll root and size (roll_root, roll_entries: the election record's).", stderr)
	csvPath := fs.String("csv", "", "roll CSV (voter_id,credential,state); required")
	template := fs.String("election", "", "election template (config/election.json's shape): the election id and contests, unless -election-id or -contests are given")
	electionID := fs.String("election-id", "", "id of the election the roll is for (its record's id): nullifiers are bound to it")
	contests := fs.String("contests", "", "comma-separated ids of the election's contests, e.g. L2025-001,L2025-002: every voter gets a nullifier in each")
	dryRun := fs.Bool("dry-run", false, "only compute the summary and root; do not touch Redis")
	secretFile := cli.SecretFlag(fs)
	fpRate := fs.Float64("bloom-fp-rate", dedup.DefaultConfig().FalsePositiveRate, "Bloom false-positive rate each state's filter is sized for")
	batch := fs.Int("batch", 10_000, "rows per Redis pipeline")
	redisFlags := cli.RedisFlags(fs, redisserver.UserRoll)
	if err := parse(fs, args); err != nil {
		return err
	}
	var states []string // the template's, to refuse rows of other states
	if *template != "" {
		e, err := election.Template(*template)
		if err != nil {
			return err
		}
		states = e.States
		*electionID = cmp.Or(*electionID, e.ID)
		*contests = cmp.Or(*contests, strings.Join(e.ContestIDs(), ","))
	}
	if *csvPath == "" || *electionID == "" || *contests == "" {
		return cli.Usagef("load: -csv is required, and -election TEMPLATE or both -election-id and -contests (e.g. -election config/referendum.json)")
	}
	if _, err := bloom.ForCapacity(1, *fpRate); err != nil {
		return cli.Usagef("load: -bloom-fp-rate: %v, e.g. %v", err, dedup.DefaultConfig().FalsePositiveRate)
	}
	if *batch < 1 {
		return cli.Usagef("load: -batch is %d: it must be at least 1", *batch)
	}
	secret, err := cli.LoadSecret(*secretFile)
	if err != nil {
		return err
	}
	f, err := os.Open(*csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	bar := cli.NewProgress(stderr, "rows", 0)
	ids := strings.Split(*contests, ",")
	for _, id := range ids {
		if !ballot.ValidIdent(id) {
			return cli.Usagef("load: contest id %q in -contests must be 1..64 characters of [A-Za-z0-9_-]", id)
		}
	}
	opts := roll.Options{ElectionID: *electionID, Contests: ids, States: states, FalsePositiveRate: *fpRate, Batch: *batch, Progress: bar}
	var enrolled *cli.Progress
	if !*dryRun {
		enrolled = cli.NewProgress(stderr, "entries into Redis", 0)
		opts.Enrolled = enrolled
		rdb, err := redisFlags.Connect(ctx)
		if err != nil {
			return err
		}
		defer rdb.Close()
		opts.Redis = rdb
	}
	sum, err := roll.Load(ctx, f, secret, opts)
	bar.Finish()
	enrolled.Finish()
	if err != nil {
		return fmt.Errorf("load %s: %w", *csvPath, err)
	}
	return printJSON(stdout, sum)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func rebuildBloom(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rebuild-bloom", "roll rebuild-bloom sets each state's Bloom bits from the ledger's nullifiers and marks the voters the ledger holds as voted.", stderr)
	ledgerFlags := cli.LedgerFlags(fs, network.Explorer)
	file := fs.String("nullifiers", "", "instead of the ledger: CSV export of its nullifiers (state,nullifier)")
	states := fs.String("states", "", "comma-separated states to rebuild, each one of the election's when read from the ledger; required")
	redisFlags := cli.RedisFlags(fs, redisserver.UserRoll)
	logFlags := cli.LogFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *states == "" {
		return cli.Usagef("rebuild-bloom: give -states, and -nullifiers FILE unless the nullifiers are read from the ledger (-profile)")
	}
	stateList, err := parseStates("rebuild-bloom", *states)
	if err != nil {
		return err
	}
	log, err := logFlags.Logger(stderr)
	if err != nil {
		return err
	}
	var src dedup.NullifierSource = roll.NullifierFile{Path: *file}
	if *file == "" {
		conn, err := ledgerFlags.Dial(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		ledger := conn.Ballot()
		if err := statesOfElection(ctx, ledger, stateList); err != nil {
			return err
		}
		src = ledger
	}
	rdb, err := redisFlags.Connect(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	d := dedup.New(rdb, rebuildOnly{}, dedup.Config{}, log)
	defer d.Close()
	for _, st := range stateList {
		p := cli.NewProgress(stderr, "rebuilding "+st, 0)
		stats, err := d.Rebuild(ctx, st, src, func(done int) { p.Set(int64(done), 0) })
		p.Finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d nullifiers, %d voters marked as voted\n", st, stats.Nullifiers, stats.MarkedVoted)
	}
	return nil
}

// statesOfElection refuses, as a usage error naming -states, the states
// that are not the election's on the ledger (Election.MissingStates): the
// ledger holds no nullifier of them, and rebuilding them would only make
// Redis keys for them.
// A ledger without an election holds no nullifiers: an error too.
func statesOfElection(ctx context.Context, ledger election.Source, states []string) error {
	e, err := ledger.Election(ctx)
	if errors.Is(err, ballot.ErrNotFound) {
		return errors.New("rebuild-bloom: the ledger holds no election yet, so no nullifiers to rebuild from")
	}
	if err != nil {
		return fmt.Errorf("rebuild-bloom: reading the election's states: %w", err)
	}
	if missing := e.MissingStates(states); len(missing) > 0 {
		what := "state " + missing[0] + " in -states is not one"
		if len(missing) > 1 {
			what = "states " + strings.Join(missing, ", ") + " in -states are not"
		}
		return cli.Usagef("rebuild-bloom: %s of election %s's states (%s)", what, e.ID, strings.Join(e.States, ","))
	}
	return nil
}

// rebuildOnly is the ledger of a Deduper that only rebuilds Bloom filters:
// it takes no votes, so no exact check is ever asked of it; one that were
// would fail rather than guess.
type rebuildOnly struct{}

func (rebuildOnly) NullifierUsed(context.Context, string, string) (bool, error) {
	return false, errors.New("roll rebuild-bloom checks no votes")
}
