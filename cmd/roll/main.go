// Command roll manages the voter roll and the gateway's Redis dedup state.
//
// Usage:
//
//	roll gen -n N -states CA,NY [-seed S] [-o roll.csv]
//	    write a synthetic roll CSV (voter_id,credential,state)
//	roll load -csv roll.csv [-dry-run] [-redis-addr ADDR] [-secret-file F] [-bloom-fp-rate P]
//	    derive nullifiers, load them per state into Redis, size the Bloom
//	    filters, and print the roll's Merkle root (JSON summary on stdout)
//	roll rebuild-bloom -profile .run/network/profile.json -states CA,NY [-redis-addr ADDR]
//	    set Bloom bits and mark voters as voted from the ledger's nullifiers
//	    (read through a peer; or -nullifiers FILE for a CSV export state,nullifier)
//
// Flags may also be set by the environment (ROLL_<FLAG>); the election secret
// is read from -secret-file or $VOTECHAIN_ELECTION_SECRET. Progress goes to
// stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
)

const envPrefix = "ROLL"

const usage = `roll manages the voter roll and the gateway's Redis dedup state.

Commands:
  gen            write a synthetic roll CSV
  load           load a roll into Redis and print its Merkle root
  rebuild-bloom  repopulate Bloom filters from the ledger's nullifiers

Run roll COMMAND -help for its flags.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "roll:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"gen":           gen,
		"load":          load,
		"rebuild-bloom": rebuildBloom,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// newFlags returns a flag set for a subcommand whose usage names it.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("roll "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = gateway.Usage(fs, envPrefix, synopsis)
	return fs
}

// parse parses args, then the environment.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cli.ApplyEnv(fs, envPrefix)
}

// redisFlag registers -redis-addr and returns a function that connects.
func redisFlag(fs *flag.FlagSet) func() *redis.Client {
	addr := fs.String("redis-addr", "127.0.0.1:6379", "Redis address; password from $REDIS_PASSWORD")
	return func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: *addr, Password: os.Getenv("REDIS_PASSWORD")})
	}
}

func gen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", "roll gen writes a synthetic roll CSV (voter_id,credential,state).", stderr)
	n := fs.Int("n", 1000, "number of voters")
	states := fs.String("states", "CA,NY", "comma-separated states, assigned round-robin")
	seed := fs.Uint64("seed", 1, "seed of the credentials; the same seed gives the same roll")
	out := fs.String("o", "-", "output file; - for stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	progress := roll.NewProgress(stderr, "generating", int64(*n))
	if *out == "-" {
		return roll.Generate(stdout, *n, strings.Split(*states, ","), *seed, progress)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := roll.Generate(f, *n, strings.Split(*states, ","), *seed, progress); err != nil {
		return err
	}
	return f.Close()
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", "roll load derives nullifiers from a roll CSV, loads them per state into Redis, sizes the Bloom filters and prints the roll root.", stderr)
	csvPath := fs.String("csv", "", "roll CSV (voter_id,credential,state); required")
	dryRun := fs.Bool("dry-run", false, "only compute the summary and root; do not touch Redis")
	secretFile := fs.String("secret-file", "", "file holding the election secret in hex (else $"+gateway.SecretEnv+")")
	fpRate := fs.Float64("bloom-fp-rate", dedup.DefaultConfig().FalsePositiveRate, "Bloom false-positive rate each state's filter is sized for")
	batch := fs.Int("batch", 10_000, "rows per Redis pipeline")
	connect := redisFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *csvPath == "" {
		return errors.New("load: -csv is required")
	}
	secret, err := gateway.LoadSecret(*secretFile)
	if err != nil {
		return err
	}
	f, err := os.Open(*csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := roll.Options{FalsePositiveRate: *fpRate, Batch: *batch, Progress: roll.NewProgress(stderr, "rows", 0)}
	if !*dryRun {
		rdb := connect()
		defer rdb.Close()
		opts.Redis = rdb
	}
	sum, err := roll.Load(ctx, f, secret, opts)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}

func rebuildBloom(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rebuild-bloom", "roll rebuild-bloom sets each state's Bloom bits from the ledger's nullifiers and marks the voters the ledger holds as voted.", stderr)
	profile := fs.String("profile", "", "connection profile of the consortium: read the nullifiers from the ledger (through the Observers' peer unless -org says otherwise)")
	org := fs.String("org", "Observers", "with -profile: organisation whose peer to read")
	file := fs.String("nullifiers", "", "instead of -profile: CSV export of the ledger's nullifiers (state,nullifier)")
	states := fs.String("states", "", "comma-separated states to rebuild; required")
	connect := redisFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*file == "") == (*profile == "") || *states == "" {
		return errors.New("rebuild-bloom: give -states and one of -profile (read the ledger) or -nullifiers (a CSV export)")
	}
	var src dedup.NullifierSource = roll.NullifierFile{Path: *file}
	if *profile != "" {
		p, err := network.LoadProfile(*profile)
		if err != nil {
			return err
		}
		conn, err := fabricclient.Dial(p, *org)
		if err != nil {
			return err
		}
		defer conn.Close()
		src = conn.Ballot()
	}
	rdb := connect()
	defer rdb.Close()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	d := dedup.New(rdb, gateway.NoLedger{}, dedup.Config{}, log)
	defer d.Close()
	for _, st := range strings.Split(*states, ",") {
		p := roll.NewProgress(stderr, "rebuilding "+st, 0)
		stats, err := d.Rebuild(ctx, st, src, func(done int) { p.Add(int64(done) - p.Done()) })
		p.Finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d nullifiers, %d voters marked as voted\n", st, stats.Nullifiers, stats.MarkedVoted)
	}
	return nil
}
