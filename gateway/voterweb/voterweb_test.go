package voterweb

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
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

// windowAt is an election of two questions whose window is 14:00 to
// 20:00 UTC on 2 March 2031.
func windowAt() *ballot.Election {
	e := referendum()
	e.OpensAt = time.Date(2031, 3, 2, 14, 0, 0, 0, time.UTC)
	e.ClosesAt = e.OpensAt.Add(6 * time.Hour)
	return e
}

// startTag is the start tag of the element with the id on the page.
func startTag(t *testing.T, html, id string) string {
	t.Helper()
	tag := regexp.MustCompile(`<[a-z][a-z0-9]* [^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(html)
	if tag == "" {
		t.Fatalf("the page has no element %q", id)
	}
	return tag
}

// elementText is the element with the id, up to its end tag (the
// elements looked at hold no element of their own kind).
func elementText(t *testing.T, html, id string) string {
	t.Helper()
	tag := startTag(t, html, id)
	name := tag[1:strings.IndexByte(tag, ' ')]
	rest := html[strings.Index(html, tag):]
	return rest[:strings.Index(rest, "</"+name+">")]
}

// TestPagePhases: on the clock the handler is given, the page is rendered
// in the phase of the voting window that clock is in. Before it, a notice
// names when voting opens and closes (UTC, in <time> elements the script
// adds local time to) and the vote form is hidden; in it, the form and the
// window, no notice; after it (the window's end, an early close, or a
// closed election whatever the time), a notice that voting has closed, at
// the early close if there was one, pointing to "Check my vote" and the
// results, and no form. "Check my vote" is there in every phase; the vote
// section's heading names the phase ("Cast your vote" only while open); the
// page data gives the script the phase, the window, the gateway's time and
// each phase's heading.
func TestPagePhases(t *testing.T) {
	e := windowAt()
	early := windowAt()
	early.Status, early.ClosedAt = ballot.StatusClosed, e.OpensAt.Add(time.Hour)
	closedFirst := windowAt()
	closedFirst.Status, closedFirst.ClosedAt = ballot.StatusClosed, e.OpensAt.Add(-time.Hour)
	finalised := windowAt()
	finalised.Status, finalised.ClosedAt, finalised.FinalisedAt = ballot.StatusFinalised, e.ClosesAt, e.ClosesAt.Add(time.Hour)
	when := func(edge string, at time.Time) string {
		return `<time class="when" data-edge="` + edge + `" datetime="` + at.Format(time.RFC3339) + `">` + at.Format("2 January 2006, 15:04") + ` UTC</time>`
	}
	for _, c := range []struct {
		name  string
		e     *ballot.Election
		now   time.Time
		phase Phase
		// says is what the phase's notice (or the window, when open) says.
		says []string
	}{
		{"an hour before", e, e.OpensAt.Add(-time.Hour), PhaseBefore,
			[]string{"Voting has not opened yet.", "Voting opens at " + when("opens", e.OpensAt), " and closes at " + when("closes", e.ClosesAt)}},
		{"a second before", e, e.OpensAt.Add(-time.Second), PhaseBefore, []string{"Voting opens at " + when("opens", e.OpensAt)}},
		{"at the opening", e, e.OpensAt, PhaseOpen, []string{"Voting is open from " + when("opens", e.OpensAt) + " to " + when("closes", e.ClosesAt)}},
		{"a second before the end", e, e.ClosesAt.Add(-time.Second), PhaseOpen, []string{"Voting is open from"}},
		{"at the end", e, e.ClosesAt, PhaseAfter, []string{"Voting has closed</strong> at " + when("closes", e.ClosesAt)}},
		{"closed early", early, early.ClosedAt.Add(time.Minute), PhaseAfter, []string{"Voting has closed</strong> at " + when("closes", early.ClosedAt)}},
		{"closed before opening", closedFirst, e.OpensAt.Add(-2 * time.Hour), PhaseAfter, []string{"Voting has closed"}},
		{"finalised", finalised, e.OpensAt.Add(time.Hour), PhaseAfter, []string{"Voting has closed</strong> at " + when("closes", e.ClosesAt)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := PhaseAt(c.e, c.now); got != c.phase {
				t.Fatalf("PhaseAt = %q, want %q", got, c.phase)
			}
			h := newHandlerAt(t, fakeElections{e: c.e}, func() time.Time { return c.now })
			resp, html := get(t, h, "/vote")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /vote: %d", resp.StatusCode)
			}
			shows := map[string]bool{"vote-form": c.phase == PhaseOpen, "window": c.phase == PhaseOpen, "open-notice": false,
				"before-notice": c.phase == PhaseBefore, "after-notice": c.phase == PhaseAfter, "check-form": true}
			for id, want := range shows {
				if shown := !strings.Contains(startTag(t, html, id), " hidden"); shown != want {
					t.Errorf("#%s shown: %v, want %v", id, shown, want)
				}
			}
			shown := map[Phase]string{PhaseBefore: "before-notice", PhaseOpen: "window", PhaseAfter: "after-notice"}[c.phase]
			text := elementText(t, html, shown)
			for _, want := range c.says {
				if !strings.Contains(text, want) {
					t.Errorf("#%s lacks %q:\n%s", shown, want, text)
				}
			}
			if c.phase == PhaseAfter {
				for _, link := range []string{`<a href="#check-heading">Check my vote</a>`, `<a href="/api/v1/results">`} {
					if !strings.Contains(text, link) {
						t.Errorf("the closed notice lacks the link %s", link)
					}
				}
				if strings.Contains(html, "<noscript>") {
					t.Error("after the close the page still says it needs JavaScript to send a vote")
				}
			}
			heading := map[Phase]string{PhaseBefore: "Voting is not open yet", PhaseOpen: "Cast your vote", PhaseAfter: "Voting is closed"}
			if got := elementText(t, html, "cast-heading"); !strings.HasSuffix(got, ">"+heading[c.phase]) {
				t.Errorf("the vote section's heading is %q, want %q", got, heading[c.phase])
			}
			d := pageDataOf(t, html)
			if !maps.Equal(d.Headings, heading) {
				t.Errorf("page data headings %v, want %v", d.Headings, heading)
			}
			if d.Phase != c.phase || d.Opens != c.e.OpensAt.UnixMilli() || d.Closes != c.e.WindowEnd().UnixMilli() || d.Now != c.now.UnixMilli() {
				t.Errorf("page data %+v; want phase %q, the window and the time of the handler's clock", d, c.phase)
			}
		})
	}
}

// TestPollInterval: the page data gives the script Config.PollInterval in
// milliseconds, 45 s by default; New refuses one under a millisecond.
func TestPollInterval(t *testing.T) {
	for _, c := range []struct {
		set  time.Duration
		want int64
	}{{0, 45000}, {2 * time.Second, 2000}, {time.Millisecond, 1}} {
		h := newHandlerWith(t, fakeElections{e: referendum()}, Config{PollInterval: c.set})
		if _, html := get(t, h, "/vote"); pageDataOf(t, html).Poll != c.want {
			t.Errorf("PollInterval %v: page data poll %d ms, want %d", c.set, pageDataOf(t, html).Poll, c.want)
		}
	}
	for _, bad := range []time.Duration{-time.Second, time.Millisecond - 1} {
		if _, err := New(Config{PollInterval: bad}, Deps{Elections: fakeElections{e: referendum()}, Log: slog.New(slog.DiscardHandler)}); err == nil {
			t.Errorf("New took PollInterval %v", bad)
		}
	}
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

// newHandler is a handler on the wall clock, newHandlerAt one on now.
func newHandler(t *testing.T, src Elections) *Handler {
	t.Helper()
	return newHandlerAt(t, src, nil)
}

func newHandlerAt(t *testing.T, src Elections, now func() time.Time) *Handler {
	t.Helper()
	return newHandlerWith(t, src, Config{Now: now})
}

func newHandlerWith(t *testing.T, src Elections, cfg Config) *Handler {
	t.Helper()
	h, err := New(cfg, Deps{Elections: src, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type pageJSON struct {
	Election string
	Single   bool
	Reasons  map[string]string
	Phase    Phase
	// Opens, Closes and Now are in milliseconds since the epoch.
	Opens, Closes, Now int64
	Headings           map[Phase]string
	// Poll is in milliseconds.
	Poll int64
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

// TestNoElectionRetryAfter: the page's 503 advises Config.RetryAfter (the
// gateway's --retry-after) in whole seconds, rounded up, at least 1; 2 s by
// default.
func TestNoElectionRetryAfter(t *testing.T) {
	for set, want := range map[time.Duration]string{
		0:                       "2",
		7 * time.Second:         "7",
		1500 * time.Millisecond: "2",
		300 * time.Millisecond:  "1",
		-time.Second:            "1",
	} {
		h := newHandlerWith(t, fakeElections{err: errors.New("ledger down")}, Config{RetryAfter: set})
		if resp, _ := get(t, h, "/vote"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != want {
			t.Errorf("RetryAfter %v: status %d, Retry-After %q; want 503 with %s", set, resp.StatusCode, resp.Header.Get("Retry-After"), want)
		}
	}
}

// TestNoExternalURLs: the page, its script and its style name no other
// site: every URL in them is a path on the gateway or a place on the page,
// but for the links to the explorer when the gateway is given one (its
// results and its verification page), which lead to that explorer only.
func TestNoExternalURLs(t *testing.T) {
	for _, explorer := range []string{"", "https://observers.example.org/explorer"} {
		t.Run("explorer="+explorer, func(t *testing.T) {
			e := windowAt() // closed: the notice links to the results
			_, html := get(t, newHandlerWith(t, fakeElections{e: e}, Config{ExplorerURL: explorer, Now: func() time.Time { return e.ClosesAt }}), "/vote")
			if explorer != "" {
				links := strings.Count(html, `href="`+explorer+`/`)
				html = strings.ReplaceAll(html, `href="`+explorer+`/`, `href="/`)
				if links != 2 || strings.Contains(html, "observers.example.org") {
					t.Fatalf("%d links to the explorer, want 2 (results, verify), and no other mention of it:\n%s", links, html)
				}
			}
			checkNoExternalURLs(t, html)
		})
	}
}

// checkNoExternalURLs checks that the page html, the script and the style
// name no other site.
func checkNoExternalURLs(t *testing.T, html string) {
	t.Helper()
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
		if (!strings.HasPrefix(ref[1], "/") || strings.HasPrefix(ref[1], "//")) && !strings.HasPrefix(ref[1], "#") {
			t.Errorf("page refers to %q, not a path on the gateway or a place on the page", ref[1])
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

// TestExplorerLinks: given an explorer's URL (a trailing slash ignored),
// the page links to its readable pages in every phase, the election record
// missing included: "Check my vote" to its /verify page (the script adds
// each vote's ?vote_id=), the closed notice to its results (/#results)
// beside the gateway's own JSON. Without one the page names no explorer
// and the closed notice links to /api/v1/results alone.
func TestExplorerLinks(t *testing.T) {
	e := windowAt()
	const base = "https://observers.example.org/explorer"
	verify := `<a href="` + base + `/verify" id="explorer-verify">`
	results := `<a href="` + base + `/#results" id="explorer-results">`
	for _, c := range []struct {
		name     string
		src      fakeElections
		now      time.Time
		explorer string
		want     []string
	}{
		{"open", fakeElections{e: e}, e.OpensAt, base + "/", []string{verify}},
		{"closed", fakeElections{e: e}, e.ClosesAt, base, []string{verify, results, `<a href="/api/v1/results">`}},
		{"no election record", fakeElections{err: errors.New("ledger down")}, e.OpensAt, base, []string{verify}},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := func() time.Time { return c.now }
			_, html := get(t, newHandlerWith(t, c.src, Config{ExplorerURL: c.explorer, Now: now}), "/vote")
			for _, want := range c.want {
				if !strings.Contains(html, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			if c.src.e != nil && c.now == e.ClosesAt && !strings.Contains(elementText(t, html, "after-notice"), results) {
				t.Errorf("the closed notice does not link to the explorer's results")
			}
			_, without := get(t, newHandlerWith(t, c.src, Config{Now: now}), "/vote")
			if strings.Contains(without, "explorer") {
				t.Errorf("without an explorer the page names one:\n%s", without)
			}
		})
	}
}

// TestExplorerURLRenderedSafely: the explorer's URL reaches the page
// escaped, as a URL and as HTML; one that is not an absolute http or https
// URL is refused by New, not rendered.
func TestExplorerURLRenderedSafely(t *testing.T) {
	_, html := get(t, newHandlerWith(t, fakeElections{e: referendum()}, Config{ExplorerURL: `https://observers.example.org/a"b<i>&`}), "/vote")
	if !strings.Contains(html, `href="https://observers.example.org/a%22b%3Ci%3E&amp;/verify"`) || strings.Contains(html, "<i>") {
		t.Errorf("the explorer's URL is not escaped:\n%s", html)
	}
	for _, bad := range []string{"javascript:alert(1)", "/explorer", "observers.example.org", "ftp://observers.example.org", "https://"} {
		if _, err := New(Config{ExplorerURL: bad}, Deps{Elections: fakeElections{e: referendum()}, Log: slog.New(slog.DiscardHandler)}); err == nil {
			t.Errorf("New took the explorer URL %q", bad)
		}
	}
}

func TestReasonsIsANewMapEachCall(t *testing.T) {
	reasons := Reasons()
	want := maps.Clone(reasons)
	reasons[ballot.RejectNotOnRoll] = "changed"
	delete(reasons, ballot.RejectDuplicate)
	if again := Reasons(); !maps.Equal(again, want) {
		t.Errorf("a caller's change to Reasons' map shows in the next call: %q", again)
	}
}
