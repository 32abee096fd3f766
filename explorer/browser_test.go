package explorer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer"
	"github.com/votechain/votechain/internal/browsertest"
	"github.com/votechain/votechain/test-network/nettest"
)

// browse drives the explorer's web UI in headless Chromium: the dashboard,
// a block, its batch, a receipt built by the test from its own batch
// (PASS), the same receipt tampered with (FAIL), a receipt the explorer
// builds for a vote id (PASS), the audit (MATCH) and the results per question
// (checkResults). Screenshots go to .run/test/explorer-browser.
func browse(t *testing.T, l *testLedger, e *explorer.Explorer) {
	base := serve(t, e)
	shots := filepath.Join(nettest.RepoRoot(t), ".run", "test", "explorer-browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)

	// The test's own receipt of a vote of a batch it committed.
	b, c := l.writer.batches[1], l.writer.commits[1]
	receipts, err := b.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	rc := receipts[len(receipts)/2]
	rc.TxID, rc.Block, rc.Status, rc.Vote = c.TxID, c.Block, ballot.ReceiptCounted, &b.Votes[rc.Index]
	good := mustJSON(t, rc)
	tampered := rc
	tampered.Proof = append([]string(nil), rc.Proof...)
	tampered.Proof[0] = flipHex(tampered.Proof[0])
	bad := mustJSON(t, tampered)

	batchLink := chromedp.CSS(fmt.Sprintf(`a[href="/batches/%s/%d"]`, b.State, b.Seq))
	verdict := chromedp.Text(chromedp.ID("verdict"))
	verdictAndPath := func(ctx context.Context, tg *chromedp.Target) (string, error) {
		v, err := verdict(ctx, tg)
		if err != nil {
			return "", err
		}
		// The path is read once its last level, the root, is there.
		if _, err := chromedp.Text(chromedp.CSS("#proof-path li.root"))(ctx, tg); err != nil {
			return "", err
		}
		p, err := chromedp.Text(chromedp.ID("proof-path"))(ctx, tg)
		return v + "\n" + p, err
	}
	// Each step acts, then reads one text of the page it ends on.
	steps := []struct {
		name string
		act  chromedp.Action[chromedp.Void]
		read chromedp.Action[string]
		want string // "" to check the text below instead
	}{
		{"dashboard", chromedp.Steps(chromedp.Navigate(base + "/")), chromedp.Text(chromedp.ID("height")), ""},
		{"block", chromedp.Steps(chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/blocks/%d"]`, c.Block)), chromedp.NodeVisible)),
			chromedp.Text(chromedp.ID("block-hash")), ""},
		{"batch", chromedp.Steps(chromedp.Click(batchLink, chromedp.NodeVisible)), chromedp.Text(chromedp.ID("batch-root")), ""},
		{"receipt-pass", chromedp.Steps(
			chromedp.Navigate(base+"/verify"),
			chromedp.SetValue(chromedp.ID("receipt"), good),
			chromedp.Click(chromedp.ID("verify-receipt")),
		), verdict, "PASS"},
		{"receipt-tampered-fail", chromedp.Steps(
			chromedp.Navigate(base+"/verify"),
			chromedp.SetValue(chromedp.ID("receipt"), bad),
			chromedp.Click(chromedp.ID("verify-receipt")),
		), verdictAndPath, ""},
		{"vote-id-pass", chromedp.Steps(
			chromedp.Navigate(base+fmt.Sprintf("/batches/%s/%d", b.State, b.Seq)),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/verify?vote_id=%s"]`, b.Votes[0].ID)), chromedp.NodeVisible),
		), verdict, "PASS"},
		{"audit", chromedp.Steps(chromedp.Navigate(base + "/audit")), chromedp.Text(chromedp.ID("audit-match")), "MATCH"},
	}
	got := map[string]string{}
	for i, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		text, err := browsertest.Step(sctx, st.act, st.read)
		var png []byte
		if err == nil {
			png, err = chromedp.Run(sctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			t.Fatalf("step %s: %v", st.name, err)
		}
		file := filepath.Join(shots, fmt.Sprintf("%d-%s.png", i+1, st.name))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		got[st.name] = strings.TrimSpace(text)
		if st.want != "" && got[st.name] != st.want {
			t.Errorf("step %s: page says %q, want %q (screenshot %s)", st.name, got[st.name], st.want, file)
		}
	}
	checkResults(t, l, ctx, base, shots)
	height, rootCell, path := got["dashboard"], got["batch"], got["receipt-tampered-fail"]
	if height == "" || height == "0" {
		t.Errorf("dashboard height %q", height)
	}
	if !strings.Contains(rootCell, b.Root) || !strings.Contains(rootCell, "✓") {
		t.Errorf("batch page root cell %q; want root %s with ✓", rootCell, b.Root)
	}
	if !strings.HasPrefix(path, "FAIL\n") || !strings.Contains(path, "≠ root on the ledger") {
		t.Errorf("tampered proof path does not show the root mismatch: %q", path)
	}
	t.Logf("screenshots in %s", shots)
}

// checkResults checks that the dashboard shows each question of the
// referendum by its title, with every answer's national votes as the
// chaincode's GetResults counts them, and saves its screenshot.
func checkResults(t *testing.T, l *testLedger, browser context.Context, base, shots string) {
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	results, err := l.observers.Ballot().Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(shots, "dashboard-results-per-question.png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard with the results per question: %s", file)
	for _, q := range testQuestions {
		title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("contest-"+q.ID+"-title")))
		if err != nil {
			t.Fatal(err)
		}
		table, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("results-"+q.ID)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(title, q.Title) {
			t.Errorf("question %s is titled %q on the dashboard, want %q", q.ID, title, q.Title)
		}
		for _, choice := range q.Choices {
			n := results.National[q.ID][choice]
			if row := fmt.Sprintf("%s\t%d\t", choice, n); n == 0 || !strings.Contains(table, row) {
				t.Errorf("question %s: the chaincode counts %d %q; the dashboard's table reads %q (screenshot %s)", q.ID, n, choice, table, file)
			}
		}
	}
}

// serve runs the explorer (follower and web server) on a free local port
// until the test ends and returns its base URL.
func serve(t *testing.T, e *explorer.Explorer) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("explorer serve: %v", err)
		}
	})
	return "http://" + l.Addr().String()
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}
