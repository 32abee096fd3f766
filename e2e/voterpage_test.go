package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/browsertest"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestVoterPageInBrowser drives the voter's page (/vote, package voterweb)
// in headless Chromium against the real system: with the batcher stopped a
// voter casts, downloads the receipt file and, uploading it, sees the vote
// pending, and downloads the signed acceptance receipt; a second attempt
// shows the 409 message in words; once the batcher is back the same file
// shows the vote counted, with the Merkle path drawn step by step and
// checked in the browser against the root the API gives, and verify
// --acceptance reports the downloaded acceptance receipt COUNTED. Screenshots go to .run/test/voter-page-browser.
func TestVoterPageInBrowser(t *testing.T) {
	s := startSystem(t, 1, 40)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	shots := filepath.Join(nettest.RepoRoot(t), ".run", "test", "voter-page-browser")
	b := browsertest.New(t)
	downloads := browsertest.Downloads(t, b)
	shot := func(name string) string { return browsertest.Screenshot(t, b, shots, name) }
	text := func(sel string) string {
		t.Helper()
		wctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		got, err := chromedp.Run(wctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v (screenshot %s)", sel, err, shot("failed"))
		}
		return got
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		wctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, actions...); err != nil {
			t.Fatalf("%s: %v (screenshot %s)", what, err, shot("failed"))
		}
	}

	// The page's voter, and others of the same state so the batch holds
	// several votes and the proof has steps.
	me, c := s.roll[0], s.contests[0]
	var others []voter
	for _, v := range s.roll[1:] {
		if v.State == me.State {
			others = append(others, v)
		}
	}
	if err := s.st.Kill("batcher0"); err != nil {
		t.Fatal(err)
	}
	s.mustCast(t, others, 4)

	castOnPage := func() {
		do("open and fill the page", chromedp.Navigate(s.st.GatewayURL()+"/vote"),
			chromedp.WaitVisible(chromedp.ID("vote-form")),
			chromedp.Click(chromedp.ID("choice-"+c.ID+"-1")),
			chromedp.SendKeys(chromedp.ID("voter-id"), me.ID),
			chromedp.SendKeys(chromedp.ID("credential"), me.Credential),
			chromedp.SetValue(chromedp.ID("state"), me.State),
		)
		do("cast", chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.CSS("#cast-results li")))
	}
	castOnPage()
	if legend := text("#contest-" + c.ID + " legend"); !strings.Contains(legend, c.Title) {
		t.Errorf("contest legend %q lacks the title %q", legend, c.Title)
	}
	accepted := text("#cast-results li")
	voteID := text("#cast-results .vote-id")
	shot("1-accepted")
	if !strings.HasPrefix(accepted, "Accepted") || !ballot.ValidVoteID(voteID) {
		t.Fatalf("the page says %q, vote id %q; want Accepted and a vote id", accepted, voteID)
	}

	// The receipt file: the vote id, the 202 and the pending receipt.
	do("download", chromedp.Click(chromedp.ID("download")))
	file, data := browsertest.Downloaded(t, downloads, "votechain-receipt-*.json", 10*time.Second)
	var saved struct {
		Election string
		Votes    []struct {
			VoteID   string `json:"vote_id"`
			Contest  string
			Receipt  ballot.Receipt
			Accepted struct {
				AcceptanceURL string `json:"acceptance_url"`
			}
			Acceptance *struct {
				VoteID string `json:"vote_id"`
			}
		}
	}
	if err := json.Unmarshal(data, &saved); err != nil {
		t.Fatalf("downloaded receipt %s: %v", file, err)
	}
	t.Logf("downloaded %s", file)
	if saved.Election != s.electionID || len(saved.Votes) != 1 || saved.Votes[0].VoteID != voteID ||
		saved.Votes[0].Contest != c.ID || saved.Votes[0].Receipt.Status != ballot.ReceiptPending {
		t.Fatalf("downloaded receipt %+v; want vote %s in %s, pending", saved, voteID, c.ID)
	}

	// The signed acceptance receipt (the 202 names it): the file holds it,
	// and it downloads alone, as verify --acceptance reads it (checked once
	// the vote is counted).
	if a := saved.Votes[0].Acceptance; saved.Votes[0].Accepted.AcceptanceURL == "" || a == nil || a.VoteID != voteID {
		t.Errorf("the 202 names acceptance URL %q; the receipt file holds acceptance receipt %+v; want vote %s's",
			saved.Votes[0].Accepted.AcceptanceURL, a, voteID)
	}
	do("download the acceptance receipt", chromedp.Click(chromedp.ID("download-acceptance")))
	accFile, _ := browsertest.Downloaded(t, downloads, "votechain-acceptance-*.json", 10*time.Second)
	t.Logf("downloaded %s", accFile)

	// A second attempt: the 409 in words.
	castOnPage()
	refused := text("#cast-results li.refused")
	shot("2-duplicate")
	if !strings.Contains(refused, "Refused") || !strings.Contains(refused, "already accepted") || !strings.Contains(refused, "duplicate, HTTP 409") {
		t.Errorf("a second vote shows %q; want the 409 message", refused)
	}

	checkFile := func() string {
		do("check the receipt file", chromedp.Navigate(s.st.GatewayURL()+"/vote"),
			chromedp.SetUploadFiles(chromedp.ID("check-file"), []string{file}),
			chromedp.Click(chromedp.ID("check")),
			chromedp.WaitVisible(chromedp.CSS(".vote-check .status")))
		return text(".vote-check .status")
	}
	if status := checkFile(); !strings.HasPrefix(status, "Status: pending") {
		t.Fatalf("with the batcher stopped the page says %q (screenshot %s)", status, shot("3-pending"))
	}
	shot("3-pending")

	if err := s.st.Up(ctx); err != nil { // starts the batcher again
		t.Fatal(err)
	}
	var status string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		if status = checkFile(); !strings.HasPrefix(status, "Status: pending") || time.Now().After(deadline) {
			break
		}
	}
	final := shot("4-counted")
	if !strings.HasPrefix(status, "Status: counted") {
		t.Fatalf("after the batcher drained the page says %q (screenshot %s)", status, final)
	}
	var r ballot.Receipt
	if code, err := s.get("/api/v1/votes/"+voteID, &r); code != 200 || err != nil {
		t.Fatalf("receipt: %d %v", code, err)
	}
	steps, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll(".merkle-path li.step").length`))
	if err != nil {
		t.Fatal(err)
	}
	root := text(".merkle-path li.root code")
	verdict := text(".proof-verdict")
	t.Logf("counted in batch %s#%d of %d votes; the page drew %d steps; %s", r.State, r.Seq, r.Size, steps, verdict)
	nettest.SyncPeers(t, s.st.Network()) // "counted" follows the Commission's peer; verify reads the Observers'
	if out, code := s.runVerify(t, "--acceptance", accFile); code != 0 || !strings.Contains(out, "COUNTED "+voteID) {
		t.Errorf("verify --acceptance of the downloaded file: exit %d; want COUNTED %s\n%s", code, voteID, out)
	}
	if r.Size < 2 || steps != len(r.Proof) || root != r.Root || !strings.HasPrefix(verdict, "Proof checked") {
		t.Errorf("the page drew %d steps to root %s, verdict %q; the receipt has %d votes, %d proof hashes, root %s (screenshot %s)",
			steps, root, verdict, r.Size, len(r.Proof), r.Root, final)
	}
}
