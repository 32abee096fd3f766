// Command explorer is Votechain's block explorer for auditors and the
// public: it indexes the ledger's blocks, verifying the hash chain and
// recounting every batch as it goes, and serves a web UI and JSON API.
//
// Usage:
//
//	explorer [flags]          follow the chain and serve (the default)
//	explorer [flags] reindex  rebuild the index up to the current height
//	                          with a progress bar, beside the old one
//	                          (DB.new), which it replaces once complete,
//	                          and exit; refused while an explorer serves
//	                          the index (stop it first)
//	explorer genesis-hash FILE  print the header hash of a genesis block
//	                          file, the hash a consortium publishes and
//	                          auditors pin with --genesis-hash
//
// Every flag may also be set by the environment (EXPLORER_<FLAG>, upper
// case, dashes as underscores); flags win. Run explorer --help for the list
// and the defaults.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/votechain/votechain/explorer"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricblock"
)

const envPrefix = "EXPLORER"

// maxPageSize and maxCommitDelay are the largest --page-size (rows per
// page of a list) and --commit-delay (how much later a block may be shown)
// taken.
const (
	maxPageSize    = 1000
	maxCommitDelay = time.Second
)

// options are the command's settings.
type options struct {
	mode            string // "serve", "reindex" or "genesis-hash"
	listen          string
	ledger          *cli.Ledger
	log             *slog.Logger
	db              string
	pageSize        int
	prometheus      string
	gateway         string
	logRefresh      time.Duration
	logPending      int
	logDeadline     time.Duration
	commitDelay     time.Duration
	shutdownTimeout time.Duration
	pprof           string
	gc              *cli.GC
	readyBehind     uint64
	genesisBlock    string
	genesisHash     []byte // --genesis-hash, decoded
	genesisFile     string // genesis-hash's argument
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{mode: "serve"}
	fs := flag.NewFlagSet("explorer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = cli.Usage(fs, envPrefix, `explorer indexes and verifies the Votechain ledger and serves its web UI and JSON API.

Usage:
  explorer [flags]          follow the chain from the index's checkpoint and serve
  explorer [flags] reindex  rebuild the index to the ledger's height (progress bar) beside the old
                            one (--db with .new), replace the old with it once complete, exit; a
                            failed reindex keeps the old index. Refused while an explorer serves
                            the index (each holds --db with .lock): stop it first
  explorer genesis-hash FILE  print the header hash of the genesis block in FILE (the channel's
                            config/election.block): what the consortium publishes, what
                            auditors give --genesis-hash

explorer reads the ledger as the Observers' User1, a read-only identity (--profile
.run/network/profiles/explorer.json, which holds it alone, --org Observers, --user User1),
through the Observers' peer; --peer Commission reads through the Commission's peer as that
same identity, to index and audit the other organisation's copy of the ledger (a fresh
--db recounts that copy from block 0).`, "")
	fs.StringVar(&o.listen, "listen", cli.DefaultExplorerAddr(), "HTTP listen address of the UI, the API (/api/v1), /healthz, /readyz and /metrics")
	fs.Uint64Var(&o.readyBehind, "ready-behind", 300, "/readyz answers 503 while the index is more than this many blocks below the peer's height (catching up: it serves an old ledger); at least 1 (blocks arrive one by one: 0 would make the explorer unready at each new block)")
	o.ledger = cli.LedgerFlags(fs, network.Explorer)
	o.ledger.PeerFlag(fs)
	logFlags := cli.LogFlags(fs)
	fs.StringVar(&o.db, "db", filepath.Join(".run", "explorer", "index.db"), "index database (SQLite); its folder is created")
	fs.IntVar(&o.pageSize, "page-size", 25, fmt.Sprintf("rows per page of every list, 1 to %d", maxPageSize))
	fs.StringVar(&o.prometheus, "prometheus", "", "base URL of the system's Prometheus, for the operator page /ops (make up sets it); empty: no operator page")
	fs.StringVar(&o.gateway, "gateway", "", "base URL of a gateway whose intake logs to monitor for the intake log page /intake-log (make up sets it); empty: not monitored")
	fs.DurationVar(&o.logRefresh, "log-refresh", 15*time.Second, "with --gateway: time between intake log checks (the page shows the last), at least 1s")
	fs.IntVar(&o.logPending, "log-pending-listed", 100, "with --gateway: pending entries the intake log page lists per state, the oldest first (all are counted; rejected and MISSING ones are all listed), at least 0; 0: every one")
	fs.DurationVar(&o.logDeadline, "log-deadline", 5*time.Minute, "with --gateway: how long after its cast time an accepted vote may take to reach the ledger before it is MISSING, more than 0")
	fs.DurationVar(&o.commitDelay, "commit-delay", 500*time.Millisecond, fmt.Sprintf("keep an index write open this long for the blocks that follow, 0 to %s: fewer commits per vote indexed, a block shown up to this much later; 0: commit each block at once", maxCommitDelay))
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "grace period for requests in flight on SIGTERM, more than 0")
	fs.StringVar(&o.pprof, "pprof", "", cli.PprofUsage)
	o.gc = cli.GCFlags(fs, 100, "")
	fs.StringVar(&o.genesisBlock, "genesis-block", "", "the channel's genesis block file as the consortium published it (make up sets it: the network's config/election.block): block 0 of the ledger must be it, or the audit flags it (genesis), and an index that holds a block 0 not audited against it is refused at start (the pin the index was built with, or explorer reindex); empty: block 0 is taken as the peer serves it")
	genesisHash := fs.String("genesis-hash", "", "the header hash (64 hex) of the channel's genesis block as the consortium published it (explorer genesis-hash FILE prints it): block 0 of the ledger must hash to it, or the audit flags it (genesis), and an index that holds a block 0 not audited against it is refused at start (the pin the index was built with, or explorer reindex); with --genesis-block both must agree")
	cmd, rest, err := cli.Parse(fs, envPrefix, args)
	if err != nil {
		return nil, err
	}
	var logErr error
	o.log, logErr = logFlags.Logger(stderr)
	if err := errors.Join(o.setMode(cmd, rest), logErr, o.checkFlags(fs, *genesisHash)); err != nil {
		return nil, err
	}
	return o, nil
}

// setMode sets o's mode from the command word cmd and the arguments after
// it, rest: serve (none), reindex, or genesis-hash and its file. Anything
// else is a usage error.
func (o *options) setMode(cmd string, rest []string) error {
	switch {
	case cmd == "":
	case cmd == "reindex" && len(rest) == 0:
		o.mode = "reindex"
	case cmd == "genesis-hash" && len(rest) == 1:
		o.mode, o.genesisFile = "genesis-hash", rest[0]
	case cmd == "genesis-hash":
		return cli.Usagef("genesis-hash takes one genesis block file, e.g. explorer genesis-hash .run/network/config/election.block")
	default:
		return cli.Usagef("unexpected arguments %q (want reindex, genesis-hash FILE or nothing)", append([]string{cmd}, rest...))
	}
	return nil
}

// checkFlags refuses, as usage errors naming the flags, every value of fs
// (the explorer's flags, parsed into o) that can be told wrong before the
// index is opened or the ledger dialled: ranges of numbers and durations,
// addresses, the organisation, the URLs and genesisHash (--genesis-hash,
// which it decodes into o.genesisHash). All are reported at once.
func (o *options) checkFlags(fs *flag.FlagSet, genesisHash string) error {
	var hashErr error
	if genesisHash != "" {
		if h, err := hex.DecodeString(genesisHash); err == nil && len(h) == sha256.Size {
			o.genesisHash = h
		} else {
			hashErr = cli.Usagef("--genesis-hash %q: want the 64 hex characters explorer genesis-hash FILE prints", genesisHash)
		}
	}
	return errors.Join(
		cli.IntsIn(fs, 1, maxPageSize, "page-size"),
		cli.DurationsAtLeast(fs, time.Second, "log-refresh"),
		cli.DurationsPositive(fs, "log-deadline", "shutdown-timeout"), // explorer.Open takes a shutdown timeout of 0 or less for none given: its default
		cli.IntsIn(fs, 0, cli.Unbounded, "log-pending-listed"),
		cli.DurationsIn(fs, 0, maxCommitDelay, "commit-delay"),
		cli.IntsIn(fs, 1, cli.Unbounded, "ready-behind"),
		hashErr,
		o.gc.Check(),
		cli.CheckAddrs(fs, "listen", "pprof"),
		o.ledger.Check(),
		o.checkURLs(),
	)
}

// checkURLs refuses, as usage errors naming the flag, a --gateway or a
// --prometheus (each empty: none) that is not a base URL with an http or
// https scheme and a host (cli.CheckBaseURL).
func (o *options) checkURLs() error {
	var errs []error
	if o.gateway != "" {
		errs = append(errs, cli.CheckGatewayURL("--gateway", o.gateway))
	}
	if o.prometheus != "" {
		errs = append(errs, cli.CheckBaseURL("--prometheus", o.prometheus, "Prometheus's", cli.DefaultPrometheusAddr()))
	}
	return errors.Join(errs...)
}

func main() { cli.Main("explorer", run) }

func run(ctx context.Context) (err error) {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		return err
	}
	if o.mode == "genesis-hash" {
		h, err := genesisBlockHash(o.genesisFile)
		if err != nil {
			return fmt.Errorf("genesis-hash %s: %w (give the channel's genesis block file, e.g. .run/network/config/election.block)", o.genesisFile, err)
		}
		fmt.Println(hex.EncodeToString(h))
		return nil
	}
	genesis, err := o.genesis()
	if err != nil {
		return err
	}
	log := o.log
	defer cli.LogFailure(log, &err)
	gc := o.gc.Apply(log)
	if o.pprof != "" { // a port in use stops the explorer now, before it opens its index
		psrv, err := cli.ServePprof(o.pprof, log)
		if err != nil {
			return err
		}
		defer psrv.Close()
	}
	profile, err := network.LoadProfile(o.ledger.Profile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.db), 0o755); err != nil {
		return err
	}
	if o.mode == "reindex" {
		bar := cli.NewProgress(os.Stderr, "blocks", 0)
		began := time.Now()
		t, err := explorer.Reindex(ctx, o.config(profile, genesis), func(n, height uint64) { bar.Set(int64(n), int64(height)) })
		if err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
		bar.Finish()
		log.Info("reindexed", "blocks", t.Blocks, "transactions", t.Txs, "batches", t.Batches, "votes", t.Votes,
			"issues", t.Issues, "seconds", time.Since(began).Seconds(), "db", o.db, gc)
		return nil
	}
	e, err := explorer.Open(ctx, o.config(profile, genesis))
	if err != nil {
		return err
	}
	defer e.Close()
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	log.Info("explorer serving", "url", "http://"+l.Addr().String(), "db", o.db, "org", o.ledger.Org, "peer", o.ledger.PeerOrg(), gc)
	return e.Serve(ctx, l)
}

// config is the explorer's configuration from o, with the consortium's
// profile and the genesis pin (genesis): it reads as --org's --user
// through --peer's organisation's peer (--org's when not given).
func (o *options) config(profile network.Profile, genesis []byte) explorer.Config {
	return explorer.Config{Profile: profile, Org: o.ledger.Org, User: o.ledger.User, Peer: o.ledger.Peer, DB: o.db,
		PageSize: o.pageSize, Prometheus: o.prometheus, Gateway: o.gateway, LogRefresh: o.logRefresh, LogDeadline: o.logDeadline, LogPendingListed: o.logPending, CommitDelay: o.commitDelay, Log: o.log, ShutdownTimeout: o.shutdownTimeout,
		Genesis: genesis, ReadyBehind: o.readyBehind}
}

// genesis returns the header hash block 0 is pinned to: --genesis-block's,
// --genesis-hash, or nil if neither is given; given both, they must agree.
func (o *options) genesis() ([]byte, error) {
	if o.genesisBlock == "" {
		return o.genesisHash, nil
	}
	h, err := genesisBlockHash(o.genesisBlock)
	if err != nil {
		return nil, fmt.Errorf("--genesis-block %s: %w (give the channel's genesis block file, or leave it empty)", o.genesisBlock, err)
	}
	if o.genesisHash != nil && !bytes.Equal(h, o.genesisHash) {
		return nil, fmt.Errorf("--genesis-block %s hashes to %x, --genesis-hash says %x: one of them is not the published genesis block (give one, or both of the same block)", o.genesisBlock, h, o.genesisHash)
	}
	return h, nil
}

// genesisBlockHash reads a block file and returns its header hash.
func genesisBlockHash(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return fabricblock.FileHeaderHash(raw)
}
