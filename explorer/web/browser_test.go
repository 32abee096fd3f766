package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/votechain/votechain/internal/browsertest"
)

// TestResultsInBrowser shows the generated referendum's results in headless
// Chromium: the dashboard lists each question with its title and, per
// answer, the votes the test cast, their share and a bar sized by the page's
// script; the audit page says MATCH. Screenshots go to
// .run/test/explorer-web-browser.
func TestResultsInBrowser(t *testing.T) {
	browser := browsertest.New(t) // first: under -short it skips the test
	r := newReferendum(t)
	srv := httptest.NewServer(r.server(t, fakeLedger{r.Results}))
	t.Cleanup(srv.Close)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(root, ".run", "test", "explorer-web-browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// page opens path and returns the screenshot's file.
	page := func(path, name string) (context.Context, string) {
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+path)); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot of %s: %v", path, err)
		}
		file := filepath.Join(shots, name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of %s: %s", path, file)
		return ctx, file
	}

	ctx, shot := page("/", "dashboard-referendum")
	for _, c := range r.Election.Contests {
		title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("contest-"+c.ID+"-title")))
		if err != nil {
			t.Fatalf("contest %s: %v", c.ID, err)
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](fmt.Sprintf(
			`[...document.querySelectorAll("#results-%s tbody tr")].map(tr =>
				[...tr.cells].map(c => c.textContent.trim()).slice(0, 3).concat([tr.querySelector(".bar").style.width]))`, c.ID)))
		if err != nil {
			t.Fatalf("contest %s results: %v", c.ID, err)
		}
		t.Logf("%s: %v", title, rows)
		want := r.Want.National[c.ID]
		if len(rows) != len(c.Choices) || len(title) < len(c.Title) || title[:len(c.Title)] != c.Title {
			t.Errorf("contest %s shows %q with rows %v; want %q with %d answers (screenshot %s)", c.ID, title, rows, c.Title, len(c.Choices), shot)
			continue
		}
		for i, row := range rows {
			choice := c.Choices[i]
			share := strconv.FormatFloat(100*float64(want[choice])/float64(want.Total()), 'f', 1, 64) + "%"
			if row[0] != choice || row[1] != strconv.FormatUint(want[choice], 10) || row[2] != share || row[3] == "" || row[3] == "0px" {
				t.Errorf("contest %s row %d: %v; want %s %d %s and a bar (screenshot %s)", c.ID, i, row, choice, want[choice], share, shot)
			}
		}
	}

	ctx, shot = page("/audit", "audit-referendum")
	if match, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("audit-match"))); err != nil || match != "MATCH" {
		t.Errorf("audit page says %q (%v), want MATCH (screenshot %s)", match, err, shot)
	}
}
