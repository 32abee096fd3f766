package voterweb

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

type fakeElections struct {
	e   *ballot.Election
	err error
}

func (f fakeElections) Election(context.Context) (*ballot.Election, error) { return f.e, f.err }

// referendum is an election of two questions, open from an hour ago to an
// hour from now.
func referendum() *ballot.Election {
	return &ballot.Election{ID: "ref-1", Name: "Demo <referendum>", States: []string{"CA", "TX"},
		Contests: []ballot.Contest{
			{ID: "L1", Title: "Law one: transport & roads", Kind: "question", Choices: []string{"oui", "non"}},
			{ID: "L2", Title: "Law two: voting age", Kind: "question", Choices: []string{"oui", "non", "blank"}},
		},
		Status: ballot.StatusConfigured, OpensAt: time.Now().Add(-time.Hour).Truncate(time.Minute), ClosesAt: time.Now().Add(time.Hour).Truncate(time.Minute)}
}

// TestPageSaysTheVotingWindow: the page names the window, and says when
// votes are not taken (before it, after it, once closed early), keeping
// the check below usable.
func TestPageSaysTheVotingWindow(t *testing.T) {
	open := referendum()
	_, html := get(t, newHandler(t, fakeElections{e: open}), "/vote")
	window := `Voting is open from <time datetime="` + open.OpensAt.UTC().Format("2006-01-02T15:04:05Z") + `">`
	if !strings.Contains(html, window) || strings.Contains(html, "Voting is not open now") {
		t.Errorf("an open election's page lacks %q or says it is not open", window)
	}
	later := referendum()
	later.OpensAt = time.Now().Add(time.Hour)
	closed := referendum()
	closed.Status, closed.ClosedAt = ballot.StatusClosed, time.Now().Add(-time.Minute)
	for name, e := range map[string]*ballot.Election{"not yet open": later, "closed early": closed} {
		_, html := get(t, newHandler(t, fakeElections{e: e}), "/vote")
		if !strings.Contains(html, "Voting is not open now") || !strings.Contains(html, `id="check`) {
			t.Errorf("%s: the page does not say votes are not taken, or lacks the check", name)
		}
	}
	if !strings.Contains(html, ">"+open.ClosesAt.UTC().Format("2 January 2006, 15:04")+"</time>") {
		t.Errorf("the page lacks the window's end")
	}
	_, html = get(t, newHandler(t, fakeElections{e: closed}), "/vote")
	if !strings.Contains(html, ">"+closed.ClosedAt.UTC().Format("2 January 2006, 15:04")+"</time>") {
		t.Errorf("an election closed early shows its planned end, not when it closed")
	}
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

func newHandler(t *testing.T, src Elections) *Handler {
	t.Helper()
	h, err := New(src, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type pageJSON struct {
	Election string
	Single   bool
	Reasons  map[string]string
}

// pageDataOf parses the page's data block, as the script does.
func pageDataOf(t *testing.T, html string) pageJSON {
	t.Helper()
	data := regexp.MustCompile(`(?s)<script type="application/json" id="page-data">(.*?)</script>`).FindStringSubmatch(html)
	if data == nil {
		t.Fatal("page has no page-data")
	}
	var d pageJSON
	if err := json.Unmarshal([]byte(data[1]), &d); err != nil {
		t.Fatalf("page data %s: %v", data[1], err)
	}
	return d
}

// TestPageListsContests: the page shows every contest of the record with
// its title and choices as labelled radio buttons, the states, a skip
// option per contest when there are several, and page data the script can
// parse; the page and its files carry the strict CSP.
func TestPageListsContests(t *testing.T) {
	e := referendum()
	h := newHandler(t, fakeElections{e: e})
	resp, html := get(t, h, "/vote")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /vote: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"<h1>Demo &lt;referendum&gt;</h1>", // escaped
		`Law one: transport &amp; roads`,
		`<option value="TX">TX</option>`,
		`<label for="voter-id">Voter id</label>`,
		`<label for="credential">Credential</label>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, c := range e.Contests {
		if !strings.Contains(html, `<fieldset class="contest" id="contest-`+c.ID+`" data-contest="`+c.ID+`">`) {
			t.Errorf("page lacks the fieldset of contest %s", c.ID)
		}
		for i, choice := range c.Choices {
			id := "choice-" + c.ID + "-" + string(rune('0'+i))
			if !strings.Contains(html, `id="`+id+`" value="`+choice+`"`) || !strings.Contains(html, `<label for="`+id+`">`+choice+`</label>`) {
				t.Errorf("contest %s: choice %q lacks its labelled radio button", c.ID, choice)
			}
		}
		if !strings.Contains(html, `id="choice-`+c.ID+`-none" value="" checked`) {
			t.Errorf("contest %s: no 'no vote' option in a several-contest election", c.ID)
		}
	}
	// The answers' live region is on the page, not hidden, before any cast.
	if !strings.Contains(html, `<section aria-labelledby="answer-heading" id="answer-section">`) || !strings.Contains(html, `<div id="answer" aria-live="polite"></div>`) {
		t.Errorf("the answers' live region is missing or hidden before the first cast")
	}
	if d := pageDataOf(t, html); d.Election != e.ID || d.Single || d.Reasons[ballot.RejectNotOnRoll] == "" {
		t.Errorf("page data %+v", d)
	}
	for _, path := range []string{"/vote", "/vote/static/voter.js", "/vote/static/voter.css"} {
		resp, _ := get(t, h, path)
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != http.StatusOK || csp != CSP || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d, CSP %q", path, resp.StatusCode, csp)
		}
	}
}

// TestCSPIsStrict: nothing but the gateway's own script and style; no
// inline script or style, no framing, forms post to the gateway only.
func TestCSPIsStrict(t *testing.T) {
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want+";") && !strings.HasSuffix(CSP, want) {
			t.Errorf("CSP %q lacks %q", CSP, want)
		}
	}
	if strings.Contains(CSP, "unsafe") || strings.Contains(CSP, "*") || strings.Contains(CSP, "http") {
		t.Errorf("CSP %q allows more than the gateway's own files", CSP)
	}
}

// TestSoleContest: a one-contest election shows just that contest, with
// no 'no vote' option and a required choice.
func TestSoleContest(t *testing.T) {
	e := referendum()
	e.Contests = e.Contests[1:]
	_, html := get(t, newHandler(t, fakeElections{e: e}), "/vote")
	if strings.Contains(html, "contest-L1") || !strings.Contains(html, `id="contest-L2"`) {
		t.Error("the sole contest is not the only one shown")
	}
	if strings.Contains(html, "-none") || !strings.Contains(html, `id="choice-L2-0" value="oui" required`) {
		t.Error("a one-contest election's choice should be required, with no 'no vote' option")
	}
	if !pageDataOf(t, html).Single {
		t.Error("page data does not say single")
	}
}

// TestNoElectionSaysSoInWords: without an election record the page answers
// 503 with the reason in words, and no vote form.
func TestNoElectionSaysSoInWords(t *testing.T) {
	resp, html := get(t, newHandler(t, fakeElections{err: errors.New("ledger down")}), "/vote")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(html, "The election record is not available yet") || strings.Contains(html, `id="vote-form"`) {
		t.Error("no election: the page should say so and show no vote form")
	}
	if strings.Contains(html, "ledger down") {
		t.Error("the page shows an internal error")
	}
}

// TestNoExternalURLs: the page, its script and its style name no other
// site: every URL in them is a path on the gateway.
func TestNoExternalURLs(t *testing.T) {
	_, html := get(t, newHandler(t, fakeElections{e: referendum()}), "/vote")
	files := map[string]string{"page": html}
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(path)
		files[path] = string(b)
		return err
	})
	if err != nil || len(files) < 3 {
		t.Fatalf("static files: %d, %v", len(files), err)
	}
	external := regexp.MustCompile(`(?i:(https?:|wss?:|ftp:)?//[a-z0-9.-]+\.[a-z]{2,}|\b(src|href|action)\s*=\s*"(https?:)?//)|@import|url\(`)
	for name, text := range files {
		if m := external.FindString(text); m != "" {
			t.Errorf("%s names an external resource: %q", name, m)
		}
	}
	for _, ref := range regexp.MustCompile(`(?:src|href|action)="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(ref[1], "/") || strings.HasPrefix(ref[1], "//") {
			t.Errorf("page refers to %q, not a path on the gateway", ref[1])
		}
	}
	if strings.Contains(html, "<style") || strings.Contains(html, " style=") || regexp.MustCompile(`<script>`).MatchString(html) {
		t.Error("inline style or script: the CSP would block it")
	}
}

// TestUnknownPath404: only the page and its files are served.
func TestUnknownPath404(t *testing.T) {
	h := newHandler(t, fakeElections{e: referendum()})
	for _, path := range []string{"/vote/static/missing.js", "/vote/other"} {
		if resp, _ := get(t, h, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}
