// Command verify checks voters' receipts against the ledger, for voters and
// auditors. For each receipt it recomputes the vote's leaf, walks the Merkle
// proof to the root, and compares that root (and the transaction) with the
// batch record on the ledger, read through a peer of the organisation you
// trust (the Observers' by default). It prints PASS or FAIL with the reason.
// A receipt names its block; while the peer has not committed that block
// yet, verify waits for it (up to 30 s) rather than fail the receipt.
//
//	verify [flags] RECEIPT.json ...      receipts as JSON (one object, or one per line)
//	verify [flags] --vote-id ID          fetch the receipt from the gateway first
//	verify [flags] --acceptance FILE ... signed acceptance receipts: COUNTED, REJECTED
//	                                     (reason), PENDING or MISSING against the ledger;
//	                                     with --offline --keys FILE only their signature and proof
//	verify [flags] --log                 monitor the intake logs: every entry up to each
//	                                     anchored head on the ledger, or MISSING
//
// Exit status (also in --help): 0 all PASS, COUNTED or REJECTED, 1 some FAIL
// or MISSING (or an inconsistent log), 2 usage, file or connection errors, 3
// none failed but some are still pending.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/network"
)

const usage = `Usage: verify [flags] RECEIPT.json ...
       verify [flags] --vote-id ID [--gateway URL]
       verify [flags] --acceptance [--offline --keys FILE] [--deadline D] FILE ...
       verify [flags] --log [--gateway URL] [--deadline D] [--log-state FILE]

Checks each receipt: the vote hashes to the receipt's leaf, the proof leads
from the leaf to the root, and the root is the one the ledger recorded for the
batch. Receipt files hold one JSON receipt, or one per line; "-" reads stdin.

--acceptance checks signed acceptance receipts (GET /api/v1/votes/{id}/acceptance):
the vote hashes to the leaf, the proof leads to the signed head's root, the head
is signed by a log key registered on the ledger (or, --offline, one in --keys:
the GetLogKeys record or one 64-hex public key a line); then, unless --offline,
where the vote stands on the ledger: COUNTED, REJECTED with the reason, PENDING
within --deadline of its cast time, or MISSING after it.

--log monitors the intake logs: for each state, the entries up to the head
anchored on the ledger (read from the gateway) must give its root, and each
must be on the ledger, counted or rejected; the others are PENDING or MISSING
as above. --log-state keeps the heads seen, and the next run checks the log
still gives them (a rewritten log fails).`

const exitStatus = `Exit status: 0 all PASS, COUNTED or REJECTED; 1 some FAIL or MISSING (or an
inconsistent log); 2 a usage, file, gateway or ledger error; 3 none failed
but some are still PENDING.`

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	ledgerFlags := cli.LedgerFlags(fs, network.Explorer)
	voteID := fs.String("vote-id", "", "fetch this vote's receipt from the gateway instead of reading files")
	gatewayURL := fs.String("gateway", "http://"+cli.DefaultGatewayAddr(), "gateway URL, for --vote-id (the receipt) and --log (the logs' heads and entries)")
	quiet := fs.Bool("q", false, "print only failures and the summary")
	acceptance := fs.Bool("acceptance", false, "the files are signed acceptance receipts")
	offline := fs.Bool("offline", false, "with --acceptance: check signatures and proofs only, with the keys of --keys, without the ledger")
	keysFile := fs.String("keys", "", "with --acceptance: log keys to trust instead of the ledger's registered ones")
	deadline := fs.Duration("deadline", 5*time.Minute, "how long after its cast time an accepted vote may take to reach the ledger before it is MISSING")
	logMode := fs.Bool("log", false, "monitor the intake logs through the gateway against the ledger")
	logState := fs.String("log-state", "", "with --log: file of the heads seen before (checked, then updated)")
	fs.Usage = cli.Usage(fs, "VERIFY", usage, exitStatus)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cli.ApplyEnv(fs, "VERIFY"); err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	switch {
	case *logMode:
		return runLog(ctx, ledgerFlags, *gatewayURL, *deadline, *logState)
	case *acceptance:
		return runAcceptance(ctx, ledgerFlags, fs.Args(), *offline, *keysFile, *deadline)
	case *offline || *keysFile != "":
		fmt.Fprintln(os.Stderr, "verify: --offline and --keys go with --acceptance")
		return 2
	}
	if (*voteID == "") == (fs.NArg() == 0) {
		fs.Usage()
		fmt.Fprintln(os.Stderr, "verify: give receipt files or --vote-id (not both)")
		return 2
	}

	var receipts []ballot.Receipt
	var err error
	if *voteID != "" {
		var r ballot.Receipt
		r, err = fetchReceipt(ctx, *gatewayURL, *voteID)
		receipts = []ballot.Receipt{r}
	} else {
		receipts, err = readJSON[ballot.Receipt](fs.Args(), "receipt", false)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 2
	}
	conn, err := ledgerFlags.Dial()
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 2
	}
	defer conn.Close()

	c := newChecker(conn.Ballot())
	var pass, fail, pending int
	for _, r := range receipts {
		summary, err := c.check(ctx, r)
		switch {
		case errors.Is(err, errPending):
			pending++
			fmt.Printf("PENDING %s: accepted, not yet on the ledger\n", label(r))
		case errors.Is(err, errLedger):
			fmt.Fprintln(os.Stderr, "verify:", err)
			return 2
		case err != nil:
			fail++
			fmt.Printf("FAIL %s: %v\n", label(r), err)
		default:
			pass++
			if !*quiet {
				fmt.Printf("PASS %s: %s\n", label(r), summary)
			}
		}
	}
	fmt.Printf("%d passed, %d failed, %d pending\n", pass, fail, pending)
	switch {
	case fail > 0:
		return 1
	case pending > 0:
		return 3
	}
	return 0
}

// runAcceptance is verify --acceptance.
func runAcceptance(ctx context.Context, lf *cli.Ledger, files []string, offline bool, keysFile string, deadline time.Duration) int {
	if len(files) == 0 || (offline && keysFile == "") {
		fmt.Fprintln(os.Stderr, "verify: --acceptance needs receipt files, and --offline needs --keys FILE (the ledger's GetLogKeys record or public keys)")
		return 2
	}
	as, err := readJSON[ballot.Acceptance](files, "acceptance receipt", true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 2
	}
	var keys ballot.LogKeys
	if keysFile != "" {
		if keys, err = readKeys(keysFile); err != nil {
			fmt.Fprintln(os.Stderr, "verify:", err)
			return 2
		}
	}
	var ledger standingLedger
	if !offline {
		conn, err := lf.Dial()
		if err != nil {
			fmt.Fprintln(os.Stderr, "verify:", err)
			return 2
		}
		defer conn.Close()
		b := conn.Ballot()
		if keysFile == "" {
			if keys, err = b.LogKeys(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "verify: read the registered log keys:", err)
				return 2
			}
		}
		ledger = b
	}
	t, err := checkAcceptances(ctx, os.Stdout, as, keys, ledger, deadline, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 2
	}
	fmt.Printf("%d good, %d failed, %d missing, %d pending\n", t.ok, t.fail, t.missing, t.pending)
	return t.exit()
}

// runLog is verify --log.
func runLog(ctx context.Context, lf *cli.Ledger, gatewayURL string, deadline time.Duration, stateFile string) int {
	conn, err := lf.Dial()
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		return 2
	}
	defer conn.Close()
	m := &logmonitor.Monitor{Log: logmonitor.Gateway{Base: gatewayURL}, Ledger: conn.Ballot(), Deadline: deadline}
	code, err := monitorLog(ctx, os.Stdout, m, stateFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
	}
	return code
}

// readJSON reads JSON objects of type T from files ("-" is stdin): a
// stream of objects, one or many per file; what names them in errors.
// Unknown fields are refused when strict.
func readJSON[T any](paths []string, what string, strict bool) ([]T, error) {
	var out []T
	for _, p := range paths {
		var r io.Reader = os.Stdin
		if p != "-" {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		dec := json.NewDecoder(bufio.NewReader(r))
		if strict {
			dec.DisallowUnknownFields()
		}
		for {
			var v T
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s %d is not valid JSON: %w", p, what, len(out)+1, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// fetchReceipt asks the gateway for a vote's receipt.
func fetchReceipt(ctx context.Context, base, voteID string) (ballot.Receipt, error) {
	var r ballot.Receipt
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/votes/"+voteID, nil)
	if err != nil {
		return r, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, fmt.Errorf("gateway: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("gateway answered %s: %s", resp.Status, body)
	}
	return r, json.Unmarshal(body, &r)
}
