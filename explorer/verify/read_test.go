package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// TestReadJSON: a stream that is not JSON or holds nothing is an error
// naming it (exit status 2); a JSON value that is not a receipt is
// returned with why, the values around it still read, each named by the
// stream and its place.
func TestReadJSON(t *testing.T) {
	const gatewayError = `{"error":{"code":"no_vote","message":"no vote was ever issued with this id"}}`
	for _, c := range []struct {
		name, data string
		err        string   // the file's error, or ""
		items      []string // each value's Err, "" for a receipt
	}{
		{"empty", "", "holds no receipt", nil},
		{"blank lines", "\n  \n", "holds no receipt", nil},
		{"broken", `{"vote_id":`, "receipt 1 is not valid JSON", nil},
		{"one receipt", `{"vote_id":"00"}`, "", []string{""}},
		{"receipt per line", "{}\n" + gatewayError + "\n{}\n", "", []string{"", "an error answer (no_vote: no vote was ever issued with this id)", ""}},
		{"array", `[{"vote_id":"00"}]`, "", []string{"it is a JSON array; a file holds one receipt object, or one per line"}},
		{"string", `"00"`, "", []string{`it is the JSON value "00", not an object`}},
		{"wrong type", `{"seq":-1}`, "", []string{"its fields do not fit"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const name = "saved.json"
			got, err := ReadJSON[ballot.Receipt](strings.NewReader(c.data), name, "receipt", false)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), name) {
					t.Fatalf("error %v; want %s and %q", err, name, c.err)
				}
				return
			}
			if err != nil || len(got) != len(c.items) {
				t.Fatalf("%d values, %v; want %d", len(got), err, len(c.items))
			}
			for i, d := range got {
				if c.items[i] == "" && d.Err != nil || c.items[i] != "" && (d.Err == nil || !strings.Contains(d.Err.Error(), c.items[i])) {
					t.Errorf("value %d: %v; want %q", i+1, d.Err, c.items[i])
				}
				if at := fmt.Sprintf("%s: receipt %d", name, i+1); d.At != at {
					t.Errorf("value %d read at %q; want %q", i+1, d.At, at)
				}
			}
		})
	}
	if _, err := ReadJSON[ballot.Acceptance](strings.NewReader(""), "saved.json", "acceptance receipt", true); err == nil || !strings.Contains(err.Error(), "holds no acceptance receipt") {
		t.Errorf("an empty acceptance receipt file: %v", err)
	}
}

// TestNotReceiptsFail: what is not a receipt (a saved error answer, {}, a
// receipt of an invalid state, a pending one of a malformed vote id) FAILs,
// named by where it was read, saying how to get a receipt, and the
// receipts after it are still checked (they ended verify with "cannot read
// the ledger").
func TestNotReceiptsFail(t *testing.T) {
	rs, ledger := committed(t)
	bad := rs[1]
	bad.State = "??"
	pending := ballot.Receipt{VoteID: "00", Status: ballot.ReceiptPending}
	var lines []string
	for _, r := range []ballot.Receipt{bad, pending, rs[0]} {
		data, _ := json.Marshal(r)
		lines = append(lines, string(data))
	}
	const path = "saved.json"
	read, err := ReadJSON[ballot.Receipt](strings.NewReader(`{"error":{"code":"no_vote","message":"no vote"}}`+"\n{}\n"+strings.Join(lines, "\n")), path, "receipt", false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tally, err := CheckReceipts(context.Background(), &out, NewChecker(ledger), read, false, nil)
	if err != nil || tally.fail != 4 || tally.ok != 1 || tally.pending != 0 || tally.Verdict() != Failed {
		t.Fatalf("tally %+v, %v:\n%s", tally, err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"FAIL " + path + ": receipt 1: not a receipt: it is an error answer (no_vote: no vote)",
		"FAIL " + path + ": receipt 2: not a receipt: its vote_id \"\"",
		"FAIL " + path + ": receipt 3: not a receipt: its state \"??\"",
		"FAIL " + path + ": receipt 4: not a receipt: its vote_id \"00\" is not 32 lower-case hex characters",
		"a receipt is the JSON body of the gateway's GET /api/v1/votes/{vote_id} (curl -s http://GATEWAY/api/v1/votes/VOTE_ID > receipt.json), or let verify fetch it: verify --vote-id VOTE_ID\n",
		"PASS " + rs[0].VoteID,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

// writeFile writes data to a new file of the test's and returns its path.
func writeFile(t *testing.T, data string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.json")
	if err == nil {
		_, err = f.WriteString(data)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
