package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/electionsetup"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/network"
)

const publishSynopsis = "roll publish sets the election up on the ledger (a new one from -election), writes its roll there and seals it against the roll root, and registers the gateways' intake log keys; as the Commission admin."

const publishEpilogue = `On separate machines (docs/operations.md) run it where the Commission admin's
profile is (the Commission's bundle, profiles/admin.json) with the roll CSV and the
election secret; the gateway's machine gives the public half of its log key with
"roll log-key -o FILE", and loads the same roll into its Redis with "roll load".
Running it again is safe: a record already on the ledger is kept (its roll root must
be this roll's, and -election, if given, the template it was set up from), the
roll's chunks already written are skipped, and keys already registered stay so
(give new ones to add them). At least one intake log key is required.`

func publish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("publish", publishSynopsis, stderr)
	fs.Usage = cli.Usage(fs, envPrefix, publishSynopsis, publishEpilogue)
	csvPath := fs.String("csv", "", "roll CSV (voter_id,credential,state); required")
	template := fs.String("election", "", "election template (config/election.json's shape) of a new election; required unless the ledger already holds one, and then it must be the one that election was set up from")
	window := fs.Duration("window", 24*time.Hour, "voting window of a new election, from now; at least "+electionsetup.MinWindow.String())
	secretFile := cli.SecretFlag(fs)
	ledgerFlags := cli.LedgerFlags(fs, network.Admin)
	batcherID := fs.String("batcher-identity", network.Batcher.CommonName(), "certificate common name the batcher processes sign with: the record's \"batchers\" must list it")
	pubKeys := fs.String("log-public-key", "", "comma-separated Ed25519 public keys (64 hex characters each) of the gateways' intake logs, as \"roll log-key\" prints them; this or -log-key is required")
	keyFile := fs.String("log-key", "", "a gateway's intake log key file (as the gateway's --log-key) whose public half to register, on a machine that holds it")
	logFlags := cli.LogFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *csvPath == "" {
		return cli.Usagef("publish: -csv is required (the roll the gateways load with \"roll load\")")
	}
	if *window < electionsetup.MinWindow {
		return cli.Usagef("publish: -window is %s: a new election's voting window must be at least %s", *window, electionsetup.MinWindow)
	}
	keys, err := logKeys(*pubKeys, *keyFile)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return cli.Usagef("publish: no intake log key given, so none would be registered and the ledger would refuse every tree head the gateways anchor: give each gateway's public key with -log-public-key (what \"roll log-key\" prints on its machine) or its key file with -log-key; running publish again with more keys adds them")
	}
	var tmpl ballot.Election // -election's, if given
	if *template != "" {
		if tmpl, err = election.Template(*template); err != nil {
			return err
		}
	}
	log, err := logFlags.Logger(stderr)
	if err != nil {
		return err
	}
	secret, err := cli.LoadSecret(*secretFile)
	if err != nil {
		return err
	}
	conn, err := ledgerFlags.Dial(ctx)
	if err != nil {
		return fmt.Errorf("%w (give the Commission admin's connection profile with -profile, e.g. a bundle's profiles/admin.json)", err)
	}
	defer conn.Close()
	ledger := conn.Ballot()
	plan := electionsetup.Plan{Window: *window, BatcherIdentity: *batcherID, BatcherRemedy: publishBatcherRemedy(), LogKeys: keys}
	existing, err := ledger.Election(ctx)
	if err != nil && !errors.Is(err, ballot.ErrNotFound) {
		return err
	}
	if plan.Template, err = recordToSetUp(existing, tmpl, *template, *batcherID); err != nil {
		return err
	}
	if existing != nil && cli.IsSet(fs, "window") {
		log.Info("the election on the ledger keeps its voting window: -window is not used", "id", existing.ID, "opens_at", existing.OpensAt, "closes_at", existing.ClosesAt)
	}
	if plan.Roll, err = readRoll(ctx, *csvPath, secret, plan.Template, stderr); err != nil {
		return err
	}
	bar := cli.NewProgress(stderr, "writing voter roll to the ledger", int64(len(plan.Roll.Roll)))
	plan.Progress = bar
	e, err := electionsetup.Ensure(ctx, ledger, plan, log)
	bar.Finish()
	if err != nil {
		return err
	}
	return printJSON(stdout, e)
}

// publishBatcherRemedy is the fix publish gives for an election on the
// ledger whose batchers do not list -batcher-identity
// (electionsetup.Plan.BatcherRemedy): the batchers sign as their profile's
// --org and --user, and a ledger keeps its one election, so a new election
// needs a new network. Its commands name the folder they act on
// (rundir.Votechain and rundir.Vcnet, which stack.Command and localnet.Tool
// wrap; roll links neither of those packages for its advice), never make's
// .run, whose election publish cannot know to be the one meant:
// votechain's system in the folder it was brought up in, or on separate
// machines the network vcnet bundles generated (rundir.DeployDir by default),
// whose nodes' ledgers are in each host's --bundle-root
// (docs/operations.md).
func publishBatcherRemedy() string {
	vcnet := rundir.Vcnet()
	return "run the batcher processes as one of them (the batcher's --profile, --org and --user) and give -batcher-identity that identity, " +
		"or wipe the ledger and set a new election up on a new network: for votechain's system, " + rundir.Votechain().Command("RUNFOLDER", 0, "down", "--wipe") +
		" (RUNFOLDER: the folder it was brought up in) and its up again; on separate machines, stop every host's processes, run " +
		vcnet.Command(rundir.DeployDir, 0, "down", "--wipe") + " and " + vcnet.Command(rundir.DeployDir, 0, "bundles", "--hosts", "HOSTS", "--bundle-root", "ROOT") +
		" (with the --hosts, --bundle-root and --port-base the bundles were generated with) where they were generated, " +
		"and on each host replace its --bundle-root, which holds the old ledgers, with its new bundle and bring the consortium up again (docs/operations.md)"
}

// recordToSetUp is the record publish sets up, given the ledger's election
// existing (nil: none) and the -election template tmpl read from
// templatePath ("": not given): existing, which a template given must be
// the one it was set up from (electionsetup.TemplateDiff), else a new one
// from tmpl. Its batchers must list identity: a usage error naming
// -batcher-identity with the fix that works, "add it to batchers" for a new
// election's template, publishBatcherRemedy for a record on the ledger,
// whose batchers cannot change. It is told before the roll is read.
func recordToSetUp(existing *ballot.Election, tmpl ballot.Election, templatePath, identity string) (ballot.Election, error) {
	var unlisted error
	switch {
	case existing == nil && templatePath == "":
		return ballot.Election{}, cli.Usagef("publish: the ledger holds no election yet: give its template with -election (e.g. config/election.json)")
	case existing == nil:
		unlisted = electionsetup.BatcherListed(&tmpl, "-election "+templatePath, identity)
	case templatePath != "":
		if diff := electionsetup.TemplateDiff(tmpl, *existing); len(diff) > 0 {
			return ballot.Election{}, fmt.Errorf("publish: -election %s is not election %s on the ledger (%s): the ledger holds one election, which cannot change once it has opened; give -election the template it was set up from, or leave -election out to keep the ledger's", templatePath, existing.ID, strings.Join(diff, "; "))
		}
		fallthrough
	default:
		tmpl, unlisted = *existing, electionsetup.RecordBatcherListed(existing, identity, publishBatcherRemedy())
	}
	if unlisted != nil {
		return ballot.Election{}, cli.Usagef("publish: -batcher-identity: %v", unlisted)
	}
	return tmpl, nil
}

// readRoll computes the roll's summary with its entries for election e,
// touching no Redis.
func readRoll(ctx context.Context, path string, secret []byte, e ballot.Election, stderr io.Writer) (roll.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return roll.Summary{}, err
	}
	defer f.Close()
	bar := cli.NewProgress(stderr, "reading voter roll", 0)
	defer bar.Finish()
	sum, err := roll.Load(ctx, f, secret, roll.Options{ElectionID: e.ID, Contests: e.ContestIDs(), States: e.States, Progress: bar, Entries: true})
	if err != nil {
		return roll.Summary{}, fmt.Errorf("reading the roll %s: %w", path, err)
	}
	return sum, nil
}

// logKeys reads the public keys given as hex and the public half of the
// key file, if any.
func logKeys(hexKeys, keyFile string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for h := range strings.SplitSeq(hexKeys, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, cli.Usagef("publish: -log-public-key %q is not an Ed25519 public key (64 hex characters; \"roll log-key\" prints one)", h)
		}
		keys = append(keys, ed25519.PublicKey(b))
	}
	if keyFile != "" {
		k, err := intakelog.LoadKey(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w (\"roll log-key -o FILE\" creates a key file on the gateway's machine and prints its public half, for -log-public-key)", err)
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k.Public().(ed25519.PublicKey))
	}
	return keys, nil
}

func logKey(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("log-key", "roll log-key creates a gateway's intake log signing key if the file does not exist (mode 0600; the gateway's --log-key) and prints its public half in hex, for \"roll publish -log-public-key\".", stderr)
	out := fs.String("o", intakelog.DefaultKeyFile, "the key file")
	if err := parse(fs, args); err != nil {
		return err
	}
	k, err := intakelog.EnsureKey(*out)
	if err != nil {
		return err
	}
	pub := k.Public().(ed25519.PublicKey)
	_, err = fmt.Fprintf(stdout, "%s\n", hex.EncodeToString(pub))
	return err
}
