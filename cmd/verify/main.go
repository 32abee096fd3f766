// Command verify checks voters' receipts against the ledger, for voters and
// auditors. For each receipt it recomputes the vote's leaf, walks the Merkle
// proof to the root, and compares that root (and the transaction) with the
// batch record on the ledger, read through a peer of the organisation you
// trust (the Observers' by default). It prints PASS or FAIL with the reason.
//
//	verify [flags] RECEIPT.json ...      receipts as JSON (one object, or one per line)
//	verify [flags] --vote-id ID          fetch the receipt from the gateway first
//
// Exit status: 0 all PASS, 1 some FAIL, 2 usage or connection errors, 3 a
// receipt is still pending.
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
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/network"
)

const usage = `Usage: verify [flags] RECEIPT.json ...
       verify [flags] --vote-id ID [--gateway URL]

Checks each receipt: the vote hashes to the receipt's leaf, the proof leads
from the leaf to the root, and the root is the one the ledger recorded for the
batch. Receipt files hold one JSON receipt, or one per line; "-" reads stdin.`

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	ledgerFlags := cli.LedgerFlags(fs, network.Explorer)
	voteID := fs.String("vote-id", "", "fetch this vote's receipt from the gateway instead of reading files")
	gatewayURL := fs.String("gateway", "http://"+cli.DefaultGatewayAddr(), "gateway URL for --vote-id")
	quiet := fs.Bool("q", false, "print only failures and the summary")
	fs.Usage = cli.Usage(fs, "VERIFY", usage, "")
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
	if (*voteID == "") == (fs.NArg() == 0) {
		fs.Usage()
		fmt.Fprintln(os.Stderr, "verify: give receipt files or --vote-id (not both)")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var receipts []ballot.Receipt
	var err error
	if *voteID != "" {
		var r ballot.Receipt
		r, err = fetchReceipt(ctx, *gatewayURL, *voteID)
		receipts = []ballot.Receipt{r}
	} else {
		receipts, err = readReceipts(fs.Args())
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

// readReceipts reads JSON receipts from files ("-" is stdin): a stream of
// JSON objects, one or many per file.
func readReceipts(paths []string) ([]ballot.Receipt, error) {
	var out []ballot.Receipt
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
		for {
			var rec ballot.Receipt
			err := dec.Decode(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: receipt %d is not valid JSON: %w", p, len(out)+1, err)
			}
			out = append(out, rec)
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
