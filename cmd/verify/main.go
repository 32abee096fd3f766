// Command verify checks voters' receipts against the ledger, for voters and
// auditors. For each receipt it recomputes the vote's leaf, walks the Merkle
// proof to the root, and compares that root (and the transaction) with the
// batch record on the ledger, read through a peer of the organisation you
// trust (the Observers' by default). It prints PASS or FAIL with the reason.
// A receipt of a vote rejected as a duplicate says where the ledger counted
// its nullifier: the same vote id is a re-send, harmless (PASS); another is
// DUPLICATE, another vote with the voter's credentials counted first (a
// matter for the election's officials).
// A receipt names its block; while the peer has not committed that block
// yet, verify waits for it (up to 30 s over all the receipts) rather than
// fail the receipt, and one still ahead of the peer is PENDING, the other
// receipts still checked. Once the election is finalised no batch can be
// committed, and a receipt whose batch the ledger lacks FAILs at once,
// whatever block it names.
//
//	verify [flags] RECEIPT.json ...      receipts as JSON (one object, or one per line)
//	verify [flags] --vote-id ID          fetch the receipt from the gateway first
//	verify [flags] --acceptance FILE ... signed acceptance receipts: COUNTED, REJECTED
//	                                     (reason), DUPLICATE (another vote counted with
//	                                     its nullifier first), PENDING or MISSING against
//	                                     the ledger;
//	                                     with --gateway also FORK (a head and the
//	                                     anchored one: one size, two roots), BAD-PROOF
//	                                     (the gateway's proof between them fails) or
//	                                     UNCHECKED (no proof to tell);
//	                                     with --offline --keys FILE only their
//	                                     signature and proof: VALID or FAIL
//	                                     (--keys goes with --offline only)
//	verify [flags] --log                 monitor the intake logs: every entry up to each
//	                                     anchored head on the ledger, or MISSING; every
//	                                     vote the ledger counts in the log, or UNLOGGED;
//	                                     a log inconsistent with a signed head FORK
//	                                     (a head seen before, --log-state, and the
//	                                     anchored one prove it) or BAD-PROOF (entries
//	                                     that do not give the anchored root); a head
//	                                     seen before past the anchored one PENDING;
//	                                     an entry rejected as a duplicate says where
//	                                     its nullifier was counted, DUPLICATE as above
//
// The whole run is bounded by --timeout (10 minutes by default); SIGINT
// (Ctrl-C) or SIGTERM stops it, saying what it found before. The exit
// statuses are those of exitStatuses (exitstatus.go), which --help
// prints; explorer/verify's checks give the verdicts they map.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/explorer/verify"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/logprogress"
	"github.com/votechain/votechain/network"
)

const usage = `Usage: verify [flags] RECEIPT.json ...
       verify [flags] --vote-id ID [--gateway URL] [--gateway-timeout D]
       verify [flags] --acceptance [--gateway URL | --offline --keys FILE] [--deadline D] FILE ...
       verify [flags] --log [--gateway URL] [--gateway-timeout D] [--deadline D] [--log-state FILE]

Flags go before the files. A flag of a mode other than the one given (as
--log-state without --log), or two modes, is a usage error (status 2) naming
the mode each flag goes with; a variable (VERIFY_...) that sets such a flag
is used by its modes only.

verify reads the ledger as the Observers' User1, the read-only identity the
explorer reads as (--profile .run/network/profiles/explorer.json, which
holds that identity alone, --org Observers, --user User1), through the
Observers' peer: the network makes no identity for auditors apart from it,
and this one can write nothing (the chaincode lets only the Commission's
clients write). --peer Commission reads through the Commission's peer as
that same identity, to check a finding against the other organisation's
copy of the ledger; --org changes the identity as well, one the default
profile does not hold (.run/network/profile.json holds every organisation's
users; the Commission's User1 is the batcher's).

Checks each receipt: the vote hashes to the receipt's leaf, the proof leads
from the leaf to the root, and the root is the one the ledger recorded for the
batch. Receipt files hold one JSON receipt, or one per line; "-" reads stdin.
A receipt is the body of the gateway's ` + verify.ReceiptRoute + ` once the
vote is committed (while it is pending, the body says so: PENDING); a file that
holds no receipt is a usage error (status 2), a value in it that is not a
receipt FAILs and the others are still checked. A vote_id that is not 32
lower-case hex characters is never a receipt, pending or not.

A receipt of a vote the ledger rejected as a duplicate also says where the
ledger counted its nullifier (one more read, LocateNullifier): the same vote
id there is a re-send of the vote, harmless, and the receipt PASSes; another
vote id is DUPLICATE (printed whatever -q): another vote with the voter's
credentials was counted first, and a voter who cast only this vote should
contact the election's officials (status 4). A duplicate whose nullifier the
ledger holds as unused FAILs: its records contradict each other, and the
line says to check again through the other organisation's peer (--peer).

A receipt names the block of its batch. verify's peer may not hold that
block yet: verify then waits for it, up to 30 s over all the receipts, and
a receipt still ahead of the peer is PENDING (no verdict yet), the others
still checked. A batch the ledger lacks FAILs once the peer holds the
receipt's block or, whatever block it names, once the election is
finalised (no batch can be committed after).

--acceptance checks signed acceptance receipts (` + verify.AcceptanceRoute + `):
the vote hashes to the leaf, the proof leads to the signed head's root, the head
is signed by a log key registered on the ledger (or, --offline, one in --keys:
the GetLogKeys record or one 64-hex public key a line; --keys without --offline
is a usage error, status 2, as no file replaces the registered keys, and
VERIFY_KEYS serves --offline only); then, unless --offline,
where the vote stands on the ledger: COUNTED, REJECTED with the reason, PENDING
within --deadline of its cast time, or MISSING after it. A vote rejected as a
duplicate says where its nullifier was counted, as for receipts: REJECTED with
the same vote id (a re-send, harmless), DUPLICATE with another (status 4),
FAIL when the ledger holds the nullifier as unused.
A receipt whose state
has a batch record on the ledger that does not describe the votes of the
transaction it names (their count or Merkle root) FAILs saying so: where its
vote stands cannot be read from that record, and running again does not
change it: a failure (status 1; check through the other organisation's
peer, --peer). Given --gateway on the
command line (not VERIFY_GATEWAY, which serves --vote-id and --log), it also
checks that each receipt's signed head and its state's head anchored on the
ledger are of one log, with a consistency proof from the gateway. Two heads of
one size with different roots are FORK: they prove by themselves that the
log's signer showed the voter another log than it anchored. A head of another
size whose proof from the gateway does not verify is BAD-PROOF: a fork, or a
gateway serving a bad proof for heads of one log; either way the gateway
cannot show its log is append-only (a proof that verifies, from another
gateway of this election, clears the head; none exists for a fork). Both are
failures (status 1). Both rest on two signed heads: a state's anchored head
that does not verify with the registered keys (malformed, a key not
registered, a bad signature: one the ledger should never hold), or that is
of another state or of another election (an older chaincode's set-up
change, or a peer serving another ledger's head: either way the log cannot
be checked against it), is no evidence against the log's signer, and each
receipt of that state FAILs saying so (check through the other
organisation's peer, --peer), its head not compared. A head the gateway gives no proof for
(it does not answer, or answers an error), or whose proof does not verify
while the gateway's own head is not this election's (a wrong --gateway), is
UNCHECKED: its line gives the
vote's standing and why, the proof is not asked again for that head, and the
other receipts are still checked; the run is not complete (status 2, unless a
receipt failed): run verify again later, or check the --gateway URL. A MISSING
vote does not rest on the heads' comparison: its receipt is MISSING (a
failure) whatever that gave, its line saying too why its head is UNCHECKED.
The summary, "N receipts: ... good, ... failed, ... forked, ... bad proof,
... missing, ... pending, ... unchecked" (without --gateway, which compares
no heads, only good, failed, missing and pending; then "... duplicate of another
vote counted first" when there are any), counts each receipt once, one with
two findings in the first of FAIL, FORK, BAD-PROOF, MISSING, UNCHECKED,
DUPLICATE, PENDING, good; "missing (k of them under an unchecked head)" gives the
MISSING whose heads have no verdict, if any. With --offline a receipt is
VALID (its signature and proof hold) or FAILs, and the summary counts those
two only: "N receipts: ... valid, ... failed". Once the gateway has not
answered a request (--gateway-timeout up, or the connection refused) it is
asked nothing more in the run: the heads after are UNCHECKED at once, saying
so (a gateway that answers an error is still asked for the other heads).
Without --gateway the heads are not compared. A receipt whose head is of another election than the ledger's
(a log key registered in both still signs it) FAILs saying so: the ledger
holds neither its vote nor its log; check it against its own election's
ledger (--profile).

--log monitors the intake logs: for each state, the entries up to the head
anchored on the ledger (read from the gateway) must give its root, and each
must be on the ledger, counted or rejected; the others are PENDING or MISSING
as above. A vote the ledger counts that the log does not hold, although the
log holds entries cast --deadline after it (in a finalised election, any), is
UNLOGGED: no gateway accepted it. An entry the ledger rejected as a
duplicate says where its nullifier was counted, as a receipt's does (one
read a nullifier, whatever its entries; a progress bar on stderr for more
than 20 of them): "rejected" with the same vote id (a re-send, harmless), DUPLICATE
with another (status 4), FAIL when the ledger holds the nullifier as unused
(saying to check again through the other organisation's peer, --peer),
UNCHECKED when that read fails (status 2; the run goes on and saves the
heads it checked). Once a read gets no answer (no connection to the peer,
or no answer in time), no other is made: the duplicates
after it are UNCHECKED too, and one message on stderr names the peer and
the fixes (run again once it answers, or --peer the other organisation's).
A read the peer answered with a failure (its own "unavailable" too) fails
alone, and reads the end of the run (--timeout, a signal) cut short are
UNCHECKED with that end's message. A state's line
counts those DUPLICATE, FAIL and UNCHECKED entries apart from the plainly
rejected ones. --log-state keeps the heads seen, and the
next run checks the log still gives them; the file is written whole (mode
0600, through a temporary .FILE.DIGITS.tmp beside it, fsynced, then renamed:
a run killed while writing leaves the heads it held, and the next run
removes the temporary file; one that cannot be written is an error, status
2 unless something failed: 1). A log inconsistent with a signed
head is one line, worded as --acceptance's: FORK when a head seen before and
the anchored head prove it (one size, two roots), or the log's entries that
give the anchored root give the smaller seen head another root; BAD-PROOF
when the entries the gateway serves do not give the anchored head's root, or
are not those it served before (a fork, or a gateway serving bad entries:
either way it cannot show its log is append-only); FAIL when the head seen
before is not signed by a registered key (a damaged file). An anchored head
the log cannot be checked against, one the ledger should never hold
(malformed, signed by no registered key, a signature that does not verify,
of another state) or one of another election (an older chaincode's set-up
change, or a peer serving another ledger's head), is a FAIL line naming its
state and saying so (check through the other organisation's peer, --peer),
nothing else checked; so is a batch record that does not describe the votes
of its transaction (their count or Merkle root), which running again does
not clear. All are failures
(status 1); a ledger that cannot be read is an error (status 2). A head seen
before past the head the peer has anchored (the ledger never anchors a
smaller one, so this peer is behind the one an earlier run read) is PENDING: not checked this run, kept in the file, and
checked once the anchored head reaches it (status 3 unless something
failed). A --log-state file holding heads of another election than the
ledger's is an error (status 2) naming both: keep a file per election.

--gateway-timeout bounds each request to the gateway: the receipt of
--vote-id; each read of a log's entries for --log; each consistency proof
for --acceptance, and the gateway's own head it asks for when a proof does
not verify. A gateway that does not answer within it is an error (status 2)
naming it and the flag; for --acceptance, it leaves that head UNCHECKED, and
the heads after it, not asked, and the run goes on.

--timeout bounds the whole run (10m by default): past it, verify stops and
says "took longer than 10m0s: give --timeout more time" and what it was
doing (fetching the receipt, checking receipts, ...), with what it found
before. SIGINT (Ctrl-C) or SIGTERM stops a run likewise, saying so.`

// defaultTimeout is --timeout's default, the longest a run may take.
const defaultTimeout = 10 * time.Minute

// main runs verify on cli.Main's context, which SIGINT or SIGTERM ends.
// verify's exit statuses are its own (exitStatuses), not Main's mapping
// of an error, so a run that does not pass exits with its status itself.
func main() {
	cli.Main("verify", func(ctx context.Context) error {
		if code := run(ctx, os.Stdin); code != statusGood {
			os.Exit(code)
		}
		return nil
	})
}

// run is verify with the command line os.Args, on ctx (ended by a signal,
// its cause a cli.Interrupted), reading the receipts of file "-" from
// stdin, and returns its exit status.
func run(ctx context.Context, stdin io.Reader) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	ledgerFlags := cli.LedgerFlags(fs, network.Explorer)
	ledgerFlags.PeerFlag(fs)
	voteID := fs.String("vote-id", "", "fetch this vote's receipt from the gateway instead of reading files")
	gatewayURL := fs.String("gateway", "http://"+cli.DefaultGatewayAddr(), "gateway base URL with its scheme (http://HOST:PORT), for --vote-id (the receipt), --log (the logs' entries) and, when given on the command line, --acceptance (consistency proofs of the receipts' heads)")
	gatewayTimeout := fs.Duration("gateway-timeout", 30*time.Second, "longest wait for each answer of the gateway: the receipt (--vote-id), each read of a log's entries (--log), each consistency proof and head (--acceptance); at least 1ms")
	quiet := fs.Bool("q", false, "receipt checks (files or --vote-id) leave out their PASS lines; FAIL, PENDING and DUPLICATE lines and the summary are still printed. --acceptance and --log print every line whatever -q")
	acceptance := fs.Bool("acceptance", false, "the files are signed acceptance receipts")
	offline := fs.Bool("offline", false, "with --acceptance: check signatures and proofs only, with the keys of --keys, without the ledger")
	keysFile := fs.String("keys", "", "with --acceptance --offline (which needs it): the log keys to trust, the ledger's GetLogKeys record or one 64-hex public key a line; refused without --offline, which checks heads with the keys registered on the ledger")
	deadline := fs.Duration("deadline", 5*time.Minute, "how long after its cast time an accepted vote may take to reach the ledger before it is MISSING, at least 0")
	logMode := fs.Bool("log", false, "monitor the intake logs through the gateway against the ledger")
	logState := fs.String("log-state", "", "with --log: file of the heads seen before (checked, then updated: written whole, mode 0600)")
	timeout := fs.Duration("timeout", defaultTimeout, "longest the whole run may take, at least 1ms: past it, verify stops saying what it was doing and what it found before (status 2, or 1 if something failed)")
	fs.Usage = cli.Usage(fs, "VERIFY", usage, exitStatusHelp())
	given, err := parseCommandLine(fs, "VERIFY", os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return statusGood
	}
	var m mode
	if err == nil {
		m, err = chooseMode(*voteID != "", *acceptance, *logMode, fs.Args())
	}
	if errors.Is(err, errNothingToCheck) {
		fs.Usage()
	}
	if err == nil {
		var ledgerErr error
		if readsLedger := m != modeAcceptance || !*offline; readsLedger { // --acceptance --offline dials nothing
			ledgerErr = ledgerFlags.Check()
		}
		err = errors.Join(checkModeFlags(given, m), checkKeysFlag(given, m, *offline), ledgerErr,
			cli.DurationsAtLeast(fs, 0, "deadline"), cli.DurationsAtLeast(fs, time.Millisecond, "gateway-timeout", "timeout"))
	}
	checkForks := m == modeAcceptance && given["gateway"] // on the command line: $VERIFY_GATEWAY serves --vote-id and --log
	if err == nil {
		err = checkGatewayFlags(*voteID, *gatewayURL, m == modeVoteID || m == modeLog || checkForks)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return statusIncomplete
	}
	ctx, cancel := context.WithTimeoutCause(ctx, *timeout, runTimedOut{limit: *timeout})
	defer cancel()
	switch m {
	case modeLog:
		return runLog(ctx, ledgerFlags, logGateway(*gatewayURL, *gatewayTimeout), *deadline, *logState)
	case modeAcceptance:
		var proofs logmonitor.Proofs
		if checkForks {
			proofs = logGateway(*gatewayURL, *gatewayTimeout)
		}
		trusted := "" // against the ledger, its registered keys: $VERIFY_KEYS serves --offline only
		if *offline {
			trusted = *keysFile
		}
		return runAcceptance(ctx, ledgerFlags, stdin, fs.Args(), *offline, trusted, *deadline, proofs)
	}

	var receipts []verify.Decoded[ballot.Receipt]
	if m == modeVoteID {
		var r ballot.Receipt
		r, err = fetchReceipt(ctx, *gatewayURL, *voteID, *gatewayTimeout)
		receipts = []verify.Decoded[ballot.Receipt]{{V: r, At: "the gateway's receipt of " + *voteID}}
		err = whileDoing(ctx, "fetching the receipt from the gateway", err)
	} else {
		receipts, err = readFiles[ballot.Receipt](stdin, fs.Args(), "receipt", false)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return stopped(verify.Outcomes{}, context.Cause(ctx))
	}
	conn, err := ledgerFlags.Dial(ctx)
	if err != nil {
		return dialFailed(ctx, err, verify.Outcomes{})
	}
	defer conn.Close()

	var bar *cli.Progress // for many receipts: they may wait up to 30 s for the peer
	var progress verify.Progress
	if len(receipts) > verify.ProgressFrom {
		bar = cli.NewProgress(os.Stderr, "checking receipts", int64(len(receipts)))
		progress = bar // nil, not a nil *cli.Progress, when there is no bar
	}
	t, err := verify.CheckReceipts(ctx, os.Stdout, verify.NewChecker(conn.Ballot()), receipts, *quiet, progress)
	bar.Finish()
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify: %v (before it: %s)\n", whileDoing(ctx, "checking receipts", err), verify.ReceiptSummary(t))
		return stopped(t, context.Cause(ctx))
	}
	fmt.Println(verify.ReceiptSummary(t))
	return exitCode(t)
}

// parseCommandLine parses args, flags then files, then applies the
// environment under prefix, and returns the flags the command line gave
// (not the environment, which may set a flag for every mode).
func parseCommandLine(fs *flag.FlagSet, prefix string, args []string) (given map[string]bool, err error) {
	if err := cli.ParseArgs(fs, "", args); err != nil {
		return nil, err
	}
	given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given, cli.ApplyEnv(fs, prefix)
}

// mode is what verify checks, named as its flag ("receipt files": none).
type mode string

const (
	modeReceipts   mode = "receipt files"
	modeVoteID     mode = "--vote-id"
	modeAcceptance mode = "--acceptance"
	modeLog        mode = "--log"
)

// modeFlags are, for each flag that serves some modes only, those modes
// (as its usage says); the others (-q, the ledger's) serve every mode.
var modeFlags = map[string][]mode{
	"offline":         {modeAcceptance},
	"keys":            {modeAcceptance},
	"log-state":       {modeLog},
	"deadline":        {modeAcceptance, modeLog},
	"gateway":         {modeVoteID, modeAcceptance, modeLog},
	"gateway-timeout": {modeVoteID, modeAcceptance, modeLog},
}

// errNothingToCheck is chooseMode's error for a command line that names
// nothing to check.
var errNothingToCheck = errors.New("give receipt files, --vote-id ID, --acceptance with acceptance receipt files, or --log")

// chooseMode is the mode the mode flags (--vote-id, --acceptance, --log)
// and the files ask for: one mode flag at most, files for receipt files
// and --acceptance only, and receipt files without a mode flag
// (errNothingToCheck without either). --acceptance's own checks of its
// files are runAcceptance's.
func chooseMode(voteID, acceptance, log bool, files []string) (mode, error) {
	var asked []mode
	for _, a := range []struct {
		on bool
		m  mode
	}{{voteID, modeVoteID}, {acceptance, modeAcceptance}, {log, modeLog}} {
		if a.on {
			asked = append(asked, a.m)
		}
	}
	switch {
	case len(asked) > 1:
		return "", fmt.Errorf("%s are modes of their own: give one", joinModes(asked, "and"))
	case len(asked) == 1 && asked[0] != modeAcceptance && len(files) > 0:
		return "", fmt.Errorf("%s reads no files, but was given %q: receipt files are checked without a mode flag, acceptance receipts with --acceptance", asked[0], files)
	case len(asked) == 1:
		return asked[0], nil
	case len(files) == 0:
		return "", errNothingToCheck
	}
	return modeReceipts, nil
}

// checkModeFlags refuses each flag of given (the command line's) that
// does not serve mode m (modeFlags), naming the modes it serves.
func checkModeFlags(given map[string]bool, m mode) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(given)) {
		if serves, ok := modeFlags[name]; ok && !slices.Contains(serves, m) {
			errs = append(errs, fmt.Errorf("--%s goes with %s, not with %s", name, joinModes(serves, "or"), m))
		}
	}
	return errors.Join(errs...)
}

// checkKeysFlag refuses --keys on the command line (given) of --acceptance
// (m) without --offline: against the ledger a receipt's head must be
// signed by a key registered there, and keys from a file would replace
// them.
func checkKeysFlag(given map[string]bool, m mode, offline bool) error {
	if m != modeAcceptance || !given["keys"] || offline {
		return nil
	}
	return errors.New("--keys goes with --offline: against the ledger, receipts' heads are checked with the log keys registered there, which no file replaces; drop --keys, or add --offline to check signatures and proofs only, with the keys of --keys")
}

// joinModes lists modes as "A, B and C" (with "and" or "or").
func joinModes(modes []mode, and string) string {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = string(m)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + and + " " + names[len(names)-1]
}

// checkGatewayFlags checks --vote-id, if given, and --gateway, if used.
func checkGatewayFlags(voteID, gateway string, used bool) error {
	if voteID != "" && !ballot.ValidVoteID(voteID) {
		return fmt.Errorf("--vote-id %q is not a vote id: give the vote_id the gateway answered when the vote was cast (32 lower-case hex characters)", voteID)
	}
	if used {
		return cli.CheckGatewayURL("--gateway", gateway)
	}
	return nil
}

// dialFailed reports a dial of the ledger that failed, worded as the step
// a signal or --timeout ended if one did, and returns the run's status
// given the outcomes found before it (so: 1 if any failed, whatever else).
// A dial error that is not the end of ctx (a certificate file not found,
// met before the dial looked at ctx) follows that wording: the signal
// alone would hide what to fix.
func dialFailed(ctx context.Context, err error, before verify.Outcomes) int {
	said := whileDoing(ctx, "dialling the ledger", err)
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) && !errors.Is(said, err) {
		said = fmt.Errorf("%w; the dial had failed: %w", said, err)
	}
	fmt.Fprintln(os.Stderr, "verify:", said)
	return stopped(before, context.Cause(ctx))
}

// runAcceptance is verify --acceptance of files ("-": stdin); offline,
// with keysFile (the keys to trust), it reads no ledger; else the keys are
// the ledger's registered ones (keysFile ""). proofs, if not nil, serve
// the consistency proofs that check receipts' heads against the anchored
// ones.
func runAcceptance(ctx context.Context, lf *cli.Ledger, stdin io.Reader, files []string, offline bool, keysFile string, deadline time.Duration, proofs logmonitor.Proofs) int {
	if len(files) == 0 || (offline && keysFile == "") {
		fmt.Fprintln(os.Stderr, "verify: --acceptance needs receipt files, and --offline needs --keys FILE (the ledger's GetLogKeys record or public keys)")
		return statusIncomplete
	}
	if offline && proofs != nil {
		fmt.Fprintln(os.Stderr, "verify: --gateway checks receipts' heads against the heads anchored on the ledger: not with --offline")
		return statusIncomplete
	}
	read, err := readFiles[ballot.Acceptance](stdin, files, "acceptance receipt", true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return statusIncomplete
	}
	as, notAcceptances := verify.SplitAcceptances(os.Stdout, read)
	var keys ballot.LogKeys
	if offline {
		if keys, err = verify.ReadKeys(keysFile); err != nil {
			fmt.Fprintln(os.Stderr, "verify:", err)
			return stopped(notAcceptances, nil)
		}
	}
	var ledger verify.StandingLedger
	if !offline {
		conn, err := lf.Dial(ctx)
		if err != nil {
			return dialFailed(ctx, err, notAcceptances)
		}
		defer conn.Close()
		b := conn.Ballot()
		if keys, err = b.LogKeys(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "verify: read the registered log keys:", whileDoing(ctx, "reading the registered log keys", err))
			return stopped(notAcceptances, context.Cause(ctx))
		}
		ledger = b
	}
	t, err := verify.CheckAcceptances(ctx, os.Stdout, as, keys, ledger, proofs, deadline, time.Now())
	t = t.Plus(notAcceptances)
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify: %v (before it: %s)\n", whileDoing(ctx, "checking acceptance receipts", err), verify.AcceptanceSummary(t, offline, proofs != nil))
		return stopped(t, context.Cause(ctx))
	}
	fmt.Println(verify.AcceptanceSummary(t, offline, proofs != nil))
	return exitCode(t)
}

// runLog is verify --log: the logs read through gw, against the ledger of
// lf; stateFile is --log-state's, read before the ledger is dialled.
func runLog(ctx context.Context, lf *cli.Ledger, gw logmonitor.Gateway, deadline time.Duration, stateFile string) int {
	state, err := verify.ReadLogState(stateFile, slog.Default())
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", logAdvice(err))
		return statusIncomplete
	}
	conn, err := lf.Dial(ctx)
	if err != nil {
		return dialFailed(ctx, err, verify.Outcomes{})
	}
	defer conn.Close()
	return checkLog(ctx, os.Stdout, os.Stderr, gw, conn.Ballot(), lf.PeerOrg(), deadline, state)
}

// checkLog is verify --log's check (verify.MonitorLog) of the logs read
// through gw against ledger, read through peer's peer: the findings on
// stdout, the progress (progressBars) and an error, worded by whileDoing
// with the flags' advice (logAdvice), on stderr. It returns verify's exit
// status, that of a stopped run (stopped) when an error came with the
// outcomes.
func checkLog(ctx context.Context, stdout, stderr io.Writer, gw logmonitor.Log, ledger verify.StandingLedger, peer string, deadline time.Duration, state *verify.LogState) int {
	t, err := verify.MonitorLog(ctx, stdout, progressBars(stderr), gw, ledger, peer, deadline, state)
	if err != nil {
		fmt.Fprintln(stderr, "verify:", whileDoing(ctx, "monitoring the intake logs", logAdvice(err)))
		return stopped(t, context.Cause(ctx))
	}
	return exitCode(t)
}

// progressBars are the bars of verify --log's steps, drawn on w
// (cli.Progress): the check of the logs (logprogress.Label, as votechain
// finalise draws it) and the look-ups of duplicates' nullifiers.
func progressBars(w io.Writer) verify.Bars {
	return func(step verify.Step, total int64) verify.Bar {
		label := logprogress.Label
		if step == verify.LocatingDuplicates {
			label = "locating duplicates' nullifiers"
		}
		return cli.NewProgress(w, label, total)
	}
}

// logAdvice adds to err, verify --log's, the flags that fix it: of the
// heads' file (a *verify.LogStateError), --log-state and what to do with
// the file; of a peer that stopped answering (a *verify.PeerDownError,
// whose text ends advising the other organisation's peer), --peer of the
// others. Any other error is returned as it is.
func logAdvice(err error) error {
	var state *verify.LogStateError
	var down *verify.PeerDownError
	switch {
	case errors.As(err, &state) && errors.Is(err, verify.ErrNotLogState):
		return fmt.Errorf("--log-state %s is %w: give the file an earlier run wrote, or a new one", state.Path, state.Err)
	case errors.As(err, &state) && errors.Is(err, verify.ErrOtherElection):
		return fmt.Errorf("--log-state %s %w; keep a state file per election (give this election's runs another --log-state file), or delete %s if its heads are no longer needed", state.Path, state.Err, state.Path)
	case errors.As(err, &state):
		return fmt.Errorf("--log-state: %w", state.Err)
	case errors.As(err, &down):
		return fmt.Errorf("%w (--peer %s)", err, strings.Join(down.Others, " or --peer "))
	}
	return err
}

// logGateway reads the logs from the gateway at base, each request waiting
// at most timeout (--gateway-timeout) for its whole answer; a gateway that
// does not answer in time, or at all, is an error naming it and the fixes
// (cli.AskGateway).
func logGateway(base string, timeout time.Duration) logmonitor.Gateway {
	return logmonitor.Gateway{Base: base, Ask: func(ctx context.Context, send func(context.Context) error) error {
		return cli.AskGateway(ctx, base, "--gateway", timeout, "--gateway-timeout", send)
	}}
}

// readFiles reads the JSON objects of type T in the files of paths, "-"
// being stdin, as verify.ReadJSON reads them (what names them; strict
// refuses unknown fields). A file not found whose name begins with "-"
// is said to be a flag after the files.
func readFiles[T any](stdin io.Reader, paths []string, what string, strict bool) ([]verify.Decoded[T], error) {
	var out []verify.Decoded[T]
	for _, p := range paths {
		read, err := readFile[T](stdin, p, what, strict)
		if err != nil {
			return nil, err
		}
		out = append(out, read...)
	}
	return out, nil
}

// readFile is readFiles of one file, path.
func readFile[T any](stdin io.Reader, path, what string, strict bool) ([]verify.Decoded[T], error) {
	if path == "-" {
		return verify.ReadJSON[T](stdin, "stdin", what, strict)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(path, "-") {
		return nil, fmt.Errorf("%s: no such file; flags go before the files: verify [flags] FILE ...", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return verify.ReadJSON[T](f, path, what, strict)
}

// runTimedOut is the cause of the run's context once --timeout (limit)
// has ended it.
type runTimedOut struct{ limit time.Duration }

func (r runTimedOut) Error() string {
	return fmt.Sprintf("took longer than %s: give --timeout more time", r.limit)
}

// whileDoing words err, which stopped the run while it was doing step
// ("checking receipts"), when the end of the run's context ctx caused it,
// by that end alone (err, its consequence, would mislead: a gateway "not
// answering"): --timeout ("took longer than 10m0s: give --timeout more
// time (it was checking receipts)") or a signal ("interrupted by SIGINT
// while checking receipts"). Any other error is returned as it is.
func whileDoing(ctx context.Context, step string, err error) error {
	var limit runTimedOut
	var sig cli.Interrupted
	switch cause := context.Cause(ctx); {
	case err == nil:
		return nil
	case errors.As(cause, &limit):
		return fmt.Errorf("%w (it was %s)", limit, step)
	case errors.As(cause, &sig):
		return fmt.Errorf("%w while %s", sig, step)
	}
	return err
}

// fetchReceipt asks the gateway for a vote's receipt, waiting at most
// timeout for the whole answer; a gateway that does not answer in time, or
// at all, is an error naming it and the fixes (cli.AskGateway).
func fetchReceipt(ctx context.Context, base, voteID string, timeout time.Duration) (ballot.Receipt, error) {
	var r ballot.Receipt
	var resp *http.Response
	var body []byte
	err := cli.AskGateway(ctx, base, "--gateway", timeout, "--gateway-timeout", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+ballot.ReceiptPath(voteID), nil)
		if err != nil {
			return err
		}
		if resp, err = http.DefaultClient.Do(req); err != nil {
			return err
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
			return fmt.Errorf("the gateway at %s: reading its answer: %w", base, err)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if resp.StatusCode != http.StatusOK {
		return r, gatewayRefused(base, voteID, resp.Status, body)
	}
	return r, json.Unmarshal(body, &r)
}

// gatewayRefused is the error of the gateway at base answering status
// (not 200), with body, to GET ballot.ReceiptPath(voteID): the gateway's own
// error code and message ({"error":{"code","message"}}), else the body,
// and for a 404 what to check. The gateway answers no_vote for an id no
// gateway of its election issued (an id carries a tag of the election's
// secret; one issued and not yet in a batch answers 200, pending), and
// not_found (no such route) when --gateway is not a gateway's base URL.
func gatewayRefused(base, voteID, status string, body []byte) error {
	var answer struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	said := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &answer) == nil && answer.Error.Code != "" {
		said = answer.Error.Code + ": " + answer.Error.Message
	}
	err := fmt.Errorf("the gateway at %s answered %s (%s)", base, status, said)
	switch {
	case !strings.HasPrefix(status, "404"):
		return err
	case answer.Error.Code == "no_vote":
		return fmt.Errorf("%w: no gateway of its election issued vote id %s; check it against the vote_id the gateway answered when the vote was cast (all 32 characters), and that --gateway is a gateway of the election the vote was cast in (a vote accepted but not yet on the ledger is answered PENDING, not 404)", err, voteID)
	}
	return fmt.Errorf("%w: %s is not a Votechain gateway's base URL, it seems (it has no %s{vote_id}); check --gateway", err, base, ballot.ReceiptPathPrefix)
}
