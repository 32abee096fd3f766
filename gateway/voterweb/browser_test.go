package voterweb

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/browsertest"
)

// fakeAPI answers the page's API calls for a two-question election: a vote
// in L1 is accepted (its signed acceptance receipt answers 503 head_pending
// once, with a Retry-After of headPendingRetry unless that is empty, then
// 200), one in L2 is a duplicate; the L1 vote's receipt says rejected, not
// on the roll. It records the vote bodies and when the acceptance receipt
// was asked for. It serves the receipts at ballot's paths, where the
// gateway does: voter.js spells the receipt's path itself, so a move of the
// route fails this test until the page follows.
type fakeAPI struct {
	headPendingRetry string
	mu               sync.Mutex
	bodies           []map[string]string
	lookups          []map[string]string
	acceptanceCalls  []time.Time
}

const fakeVoteID = "0123456789abcdef0123456789abcdef"

// earlierVoteID is the L2 vote accepted before, which the duplicate's
// look-up finds.
const earlierVoteID = "fedcba9876543210fedcba9876543210"

// record decodes a JSON request body into list and sets the answer's
// Content-Type; it answers 400 and reports false for anything else.
func (f *fakeAPI) record(w http.ResponseWriter, r *http.Request, list *[]map[string]string) (map[string]string, bool) {
	var b map[string]string
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, false
	}
	f.mu.Lock()
	*list = append(*list, b)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	return b, true
}

func (f *fakeAPI) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/vote", func(w http.ResponseWriter, r *http.Request) {
		b, ok := f.record(w, r, &f.bodies)
		if !ok {
			return
		}
		if b["contest"] == "L1" {
			w.WriteHeader(http.StatusAccepted)
			json.NewEncoder(w).Encode(map[string]string{"vote_id": fakeVoteID, "contest": "L1", "status": "pending",
				"receipt_url": ballot.ReceiptPath(fakeVoteID), "acceptance_url": ballot.ReceiptPath(fakeVoteID) + ballot.AcceptancePathSuffix + "?state=CA&index=4"})
			return
		}
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"error":{"code":"duplicate","message":"a vote in contest \"L2\" with this voter id and credential was already accepted","contest":"L2"}}`))
	})
	mux.HandleFunc("POST /api/v1/votes/lookup", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := f.record(w, r, &f.lookups); !ok {
			return
		}
		w.Write([]byte(`{"vote_id":"` + earlierVoteID + `","contest":"L2","state":"CA","status":"pending"}`))
	})
	mux.HandleFunc("GET "+ballot.ReceiptPathPrefix+"{id}"+ballot.AcceptancePathSuffix, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		f.mu.Lock()
		f.acceptanceCalls = append(f.acceptanceCalls, time.Now())
		first := len(f.acceptanceCalls) == 1
		f.mu.Unlock()
		if first { // no signed head covers the vote yet
			if f.headPendingRetry != "" {
				w.Header().Set("Retry-After", f.headPendingRetry)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"head_pending","message":"no signed tree head covers this vote yet; retry in a second"}}`))
			return
		}
		w.Write([]byte(`{"vote_id":"` + r.PathValue("id") + `","index":4,"leaf":"00","proof":[],` +
			`"head":{"election":"ref-1","state":"` + r.URL.Query().Get("state") + `","size":7,"key_id":"k1"}}`))
	})
	mux.HandleFunc("GET "+ballot.ReceiptPathPrefix+"{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") != fakeVoteID {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"no_vote","message":"no vote has this id"}}`))
			return
		}
		json.NewEncoder(w).Encode(ballot.Receipt{VoteID: fakeVoteID, State: "CA", Seq: 3, Index: 0, Size: 1,
			Leaf: strings.Repeat("ab", 32), Root: strings.Repeat("ab", 32), Proof: []string{}, TxID: "tx1", Block: 9,
			Status: ballot.ReceiptRejected, Reason: ballot.RejectNotOnRoll,
			Vote: &ballot.Vote{ID: fakeVoteID, State: "CA", Contest: "L1", Choice: "oui", CastAt: 1}})
	})
}

// TestSeveralContestsInBrowser drives the page in headless Chromium over a
// fake API: voting in two of two questions (choices picked by keyboard)
// sends one POST per question naming it; the page shows the accepted vote
// id with a link to check it later, the duplicate's 409 message, and that
// the signed acceptance receipt the 202 pointed to arrived (after one
// head_pending); the receipt file keeps it and it downloads alone; pasting
// the file into "Check my vote" shows the rejection reason in words; a
// check link of an unknown vote id shows the API's 404 message and, the
// gateway knowing an explorer, a link to the same check on it.
// Screenshots go to .run/test/voter-page-browser.
func TestSeveralContestsInBrowser(t *testing.T) {
	const explorer = "http://observers.example.test/explorer"
	h, err := New(Config{ExplorerURL: explorer}, Deps{Elections: fakeElections{e: referendum()}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	api := &fakeAPI{headPendingRetry: "1"}
	srv := fakeAPIServer(t, h, api)
	shots := shotsDir(t)
	b := browsertest.New(t)
	downloads := browsertest.Downloads(t, b)
	ctx, cancel := context.WithTimeout(b, time.Minute)
	defer cancel()
	shot := func(name string) string { return browsertest.Screenshot(t, ctx, shots, name) }
	// Keyboard only for the choices: Space checks the focused radio button.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"),
		chromedp.Focus(chromedp.ID("choice-L1-0")), chromedp.KeyEvent(" "),
		chromedp.Focus(chromedp.ID("choice-L2-1")), chromedp.KeyEvent(" "),
		chromedp.SendKeys(chromedp.ID("voter-id"), "V1"),
		chromedp.SendKeys(chromedp.ID("credential"), "secret"),
		chromedp.SetValue(chromedp.ID("state"), "CA"),
		chromedp.Click(chromedp.ID("cast")),
		chromedp.WaitVisible(chromedp.CSS("#cast-results li.refused")),
	); err != nil {
		t.Fatalf("cast: %v", err)
	}
	file := shot("several-contests-cast")
	results, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#cast-results li")].map(li => li.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || !strings.HasPrefix(results[0], "Accepted") || !strings.Contains(results[0], fakeVoteID) ||
		!strings.Contains(results[0], "link to check it later") ||
		!strings.Contains(results[0], "signed acceptance receipt received (entry 4 of the CA intake log, under a head of 7 entries signed by key k1)") ||
		!strings.HasPrefix(results[1], "Refused") || !strings.Contains(results[1], `already accepted (duplicate, HTTP 409)`) ||
		!strings.Contains(results[1], "Your vote accepted earlier has the id "+earlierVoteID) {
		t.Errorf("the page shows %q (screenshot %s)", results, file)
	}
	left, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.getElementById("voter-id").value, document.getElementById("credential").value,
		...[...document.querySelectorAll("fieldset.contest input[type=radio]:checked")].map(r => r.value)]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 4 || left[0] != "" || left[1] != "" || left[2] != "" || left[3] != "" {
		t.Errorf("after the cast the page still holds voter id, credential and choices %q; want all cleared", left)
	}
	api.mu.Lock()
	bodies, lookups := api.bodies, api.lookups
	api.mu.Unlock()
	if wantLookup := (map[string]string{"voter_id": "V1", "credential": "secret", "contest": "L2"}); len(lookups) != 1 || !equalMaps(lookups[0], wantLookup) {
		t.Errorf("the page looked up %v; want the duplicate's earlier vote, %v", lookups, wantLookup)
	}
	want := []map[string]string{
		{"voter_id": "V1", "credential": "secret", "state": "CA", "contest": "L1", "choice": "oui"},
		{"voter_id": "V1", "credential": "secret", "state": "CA", "contest": "L2", "choice": "non"},
	}
	if len(bodies) != 2 || !equalMaps(bodies[0], want[0]) || !equalMaps(bodies[1], want[1]) {
		t.Errorf("the page sent %v; want %v", bodies, want)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("download"))); err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Votes []struct {
			VoteID     string `json:"vote_id"`
			Acceptance struct {
				Head struct {
					KeyID string `json:"key_id"`
				}
			}
		}
	}
	_, data := browsertest.Downloaded(t, downloads, "votechain-receipt-*.json", 30*time.Second)
	if err := json.Unmarshal(data, &saved); err != nil || len(saved.Votes) != 1 || saved.Votes[0].VoteID != fakeVoteID ||
		saved.Votes[0].Acceptance.Head.KeyID != "k1" {
		t.Errorf("downloaded %s: %v", data, err)
	}

	// The signed acceptance receipt alone, one JSON object per line as
	// verify --acceptance reads it.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("download-acceptance"))); err != nil {
		t.Fatal(err)
	}
	_, acc := browsertest.Downloaded(t, downloads, "votechain-acceptance-*.json", 30*time.Second)
	var a struct {
		VoteID string `json:"vote_id"`
		Index  int
		Head   struct{ State string }
	}
	if err := json.Unmarshal(acc, &a); err != nil || a.VoteID != fakeVoteID || a.Index != 4 || a.Head.State != "CA" {
		t.Errorf("downloaded acceptance %s: %v", acc, err)
	}

	// Pasting the file's text shows the receipt: rejected, reason in words.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("check-paste"), string(data)),
		chromedp.Click(chromedp.ID("check")), chromedp.WaitVisible(chromedp.CSS(".vote-check .reason"))); err != nil {
		t.Fatal(err)
	}
	reason, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".vote-check .reason")))
	file = shot("several-contests-rejected")
	if err != nil || !strings.Contains(reason, Reasons()[ballot.RejectNotOnRoll]) || !strings.Contains(reason, "(not_on_roll)") {
		t.Errorf("reason shown %q (%v); want the words for not_on_roll (screenshot %s)", reason, err, file)
	}

	// A bookmarked /vote?vote_id= of an unknown id: the API's 404 message.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote?vote_id="+strings.Repeat("f", 32)),
		chromedp.WaitVisible(chromedp.CSS(".vote-check .error"))); err != nil {
		t.Fatal(err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".vote-check .error"))); err != nil || !strings.Contains(msg, "no vote has this id (no_vote, HTTP 404)") {
		t.Errorf("unknown vote id shows %q (%v)", msg, err)
	}
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".vote-check .explorer-check a").href`))
	if want := explorer + "/verify?vote_id=" + strings.Repeat("f", 32); err != nil || href != want {
		t.Errorf("the check links to the explorer at %q (%v); want %s", href, err, want)
	}
}

// fakeAPIServer serves the voter page h and api's routes.
func fakeAPIServer(t *testing.T, h *Handler, api *fakeAPI) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	api.routes(mux)
	mux.Handle("/vote", h)
	mux.Handle("/vote/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestAcceptanceRetryAfterInBrowser drives the page in headless Chromium
// over the fake API, casting a vote in L1 whose signed acceptance receipt
// answers 503 head_pending once. The page asks again no sooner than the
// answer's Retry-After has passed (3 s, where it would wait 1 s without
// it), no sooner than 1 s when it has none, and not at all when it asks
// for more than the cast waits in all (30 s over 10 s): then the page
// shows the head_pending answer in words. The gaps are timed where the
// fake API takes the calls; 10 ms are allowed for the page's timer. A
// loaded machine only lengthens a gap, so none is bounded from above: the
// second call's coming at all is what the receipt shown tells.
func TestAcceptanceRetryAfterInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	h, err := New(Config{}, Deps{Elections: fakeElections{e: referendum()}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		retryAfter string
		gap        time.Duration // 0: no second call
		shows      string
	}{
		{"3", 3 * time.Second, "signed acceptance receipt received (entry 4 of the CA intake log"},
		{"", time.Second, "signed acceptance receipt received (entry 4 of the CA intake log"},
		{"30", 0, "no signed acceptance receipt yet: no signed tree head covers this vote yet; retry in a second (head_pending, HTTP 503)"},
	} {
		api := &fakeAPI{headPendingRetry: c.retryAfter}
		srv := fakeAPIServer(t, h, api)
		ctx, cancel := context.WithTimeout(b, 30*time.Second)
		err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"),
			chromedp.Click(chromedp.ID("choice-L1-0")),
			chromedp.SendKeys(chromedp.ID("voter-id"), "V1"),
			chromedp.SendKeys(chromedp.ID("credential"), "secret"),
			chromedp.SetValue(chromedp.ID("state"), "CA"),
			chromedp.Click(chromedp.ID("cast")),
			chromedp.WaitVisible(chromedp.CSS("#cast-results li")))
		var shown string
		if err == nil {
			shown, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#cast-results li")))
		}
		cancel()
		if err != nil {
			t.Fatalf("Retry-After %q: cast: %v", c.retryAfter, err)
		}
		api.mu.Lock()
		calls := slices.Clone(api.acceptanceCalls)
		api.mu.Unlock()
		if !strings.Contains(shown, c.shows) {
			t.Errorf("Retry-After %q: the page shows %q; want it to say %q", c.retryAfter, shown, c.shows)
		}
		wantCalls := 1
		if c.gap > 0 {
			wantCalls = 2
		}
		if len(calls) != wantCalls {
			t.Errorf("Retry-After %q: the page asked for the acceptance receipt %d times; want %d", c.retryAfter, len(calls), wantCalls)
		} else if gap := calls[len(calls)-1].Sub(calls[0]); c.gap > 0 && gap < c.gap-10*time.Millisecond {
			t.Errorf("Retry-After %q: the page asked again %s after the head_pending; want %s or more",
				c.retryAfter, gap.Round(time.Millisecond), c.gap)
		}
	}
}

// TestVotingWindowInBrowser drives the page in headless Chromium with the
// voter in Asia/Kolkata (UTC+5:30) and the gateway's clock years from the
// browser's, five seconds before a window of five seconds opens when the
// page is rendered (a pageClock). The page says when voting opens, in the
// voter's time and in UTC, and shows no form; when the window opens the
// form appears with no reload (timed on the gateway's clock); when it
// ends while the voter is typing, the form goes and focus moves to the
// notice that voting has closed, and "Check my vote" stays. The test
// looks at each phase in the first second or so of its five, a screenshot
// included. Screenshots go to .run/test/voter-page-browser.
func TestVotingWindowInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := windowAt()
	e.ClosesAt = e.OpensAt.Add(5 * time.Second)
	clock := &pageClock{at: e.OpensAt.Add(-5 * time.Second)}
	h, err := New(Config{Now: clock.Now}, Deps{Elections: fakeElections{e: e}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	shots := shotsDir(t)
	ctx, cancel := context.WithTimeout(b, 30*time.Second)
	defer cancel()
	// shown tells which of the phase's elements show, and what has focus.
	shown := func(name string) map[string]any {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`Object.fromEntries(
			["vote-form", "window", "open-notice", "before-notice", "after-notice", "check-form"].map(id => [id, !document.getElementById(id).hidden])
			.concat([["focus", document.activeElement.id]]))`))
		if err != nil {
			t.Fatal(err)
		}
		got["screenshot"] = browsertest.Screenshot(t, ctx, shots, name)
		return got
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("before-notice"))); err != nil {
		t.Fatal(err)
	}
	before := shown("window-before")
	if before["vote-form"] != false || before["window"] != false || before["check-form"] != true {
		t.Errorf("before the window: %v; want the notice, no form, and the check", before)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("before-notice")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "Voting opens at ") || !strings.Contains(notice, "GMT+5:30, your time (2 March 2031, 14:00 UTC)") {
		t.Errorf("the notice says %q; want when voting opens in the voter's time and in UTC", notice)
	}

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("vote-form")),
		chromedp.Focus(chromedp.ID("voter-id")), chromedp.SendKeys(chromedp.ID("voter-id"), "V1")); err != nil {
		t.Fatalf("the form did not appear when the window opened: %v", err)
	}
	open := shown("window-opened")
	if open["before-notice"] != false || open["open-notice"] != true || open["window"] != true || open["after-notice"] != false {
		t.Errorf("once the window opened: %v; want the form, the window and the notice that it opened", open)
	}

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("after-notice"))); err != nil {
		t.Fatalf("the closed notice did not appear when the window ended: %v", err)
	}
	after := shown("window-ended")
	if after["vote-form"] != false || after["window"] != false || after["open-notice"] != false || after["check-form"] != true || after["focus"] != "after-notice" {
		t.Errorf("once the window ended: %v; want the closed notice with focus, no form, and the check", after)
	}
}

// pageClock is a gateway clock that reads at when it is first read, the
// page's rendering however long the browser took to ask for it, and runs
// on from there: a test's phases are timed from the page's rendering.
type pageClock struct {
	at    time.Time
	once  sync.Once
	start time.Time // when it was first read
}

// Now is the clock's time.
func (c *pageClock) Now() time.Time {
	return c.at.Add(time.Since(c.started()))
}

// started is when the clock was first read (now, if it had not been).
func (c *pageClock) started() time.Time {
	c.once.Do(func() { c.start = time.Now() })
	return c.start
}

// browserInKolkata starts Chromium for t with the voter's clock in
// Asia/Kolkata (UTC+5:30); under -short it skips t.
func browserInKolkata(t *testing.T) context.Context {
	t.Helper()
	b := browsertest.New(t)
	if _, err := chromedp.Call(b, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// electionAPI answers GET /api/v1/election with the answer stored last,
// with a Retry-After of retryAfter seconds when that is not 0, and logs
// when each read came.
type electionAPI struct {
	answer     atomic.Pointer[apiAnswer]
	retryAfter atomic.Int64
	mu         sync.Mutex
	times      []time.Time
}

// apiAnswer is the fake API's answer; status 0: none, the request is held
// until its client gives up (or for 5 s, so that a page that never gives
// up fails the test rather than hanging it).
type apiAnswer struct {
	status int
	body   []byte
}

func (a *electionAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
	ans, ra := a.answer.Load(), a.retryAfter.Load()
	if ans.status == 0 {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	}
	if ra != 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(ra, 10))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ans.status)
	w.Write(ans.body)
}

// reads is when each read of the record came, so far.
func (a *electionAPI) reads() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.times)
}

// pollServer serves the voter page of election e, rendered with cfg
// (PollInterval: its record read that often on average) and its record
// from the fake API it returns, which needs an answer stored before the
// page reads it.
func pollServer(t *testing.T, e *ballot.Election, cfg Config) (*electionAPI, *httptest.Server) {
	t.Helper()
	h, err := New(cfg, Deps{Elections: fakeElections{e: e}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	api := &electionAPI{}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/election", api)
	mux.Handle("/vote", h)
	mux.Handle("/vote/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return api, srv
}

// TestElectionPollInBrowser drives the page in headless Chromium, the
// voter in Asia/Kolkata, with an open election and the record read every
// 250 ms on average. While the API answers 503, the page stays open and
// reads the record less and less often: the wait after each of its first
// two reads is at least 375 and 750 ms, where without the doubling it
// would be at most 312 ms (judged on the page's clock, logElectionReads:
// a loaded machine only lengthens it). A read the API never answers is
// given up (the page says so) and the reads go on. Once the record says
// the election was closed a minute ago, the page moves to the closed
// phase without a reload: no form, the closed notice (with focus, the
// voter having been in the form) at the early close, the heading "Voting
// is closed", and no more reads. A page whose record says the election was set up anew to
// open in an hour moves back to the notice of when voting opens, at the
// new time. Screenshots go to .run/test/voter-page-browser.
func TestElectionPollInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	const poll = 250 * time.Millisecond
	api, srv := pollServer(t, e, Config{PollInterval: poll})
	shots := shotsDir(t)
	ctx, cancel := context.WithTimeout(b, 2*time.Minute)
	defer cancel()
	record := func(change func(*ballot.Election)) []byte {
		r := *e
		change(&r)
		data, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// state is the heading, the shown notice, the <time>s of the shown
	// notice as datetime and text, and what has focus.
	state := func(name string) (heading, notice string, times [][2]string, focus string) {
		t.Helper()
		type shown struct {
			Heading, Notice, Focus string
			Times                  [][2]string
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[shown](`(() => {
			const n = ["before-notice", "window", "after-notice"].find(id => !document.getElementById(id).hidden);
			return {heading: document.getElementById("cast-heading").textContent, notice: n, focus: document.activeElement.id,
				times: n ? [...document.getElementById(n).querySelectorAll("time")].map(t => [t.dateTime, t.textContent]) : []};
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		browsertest.Screenshot(t, ctx, shots, name)
		return got.Heading, got.Notice, got.Times, got.Focus
	}
	// utcTime is the datetime of a <time> at at and how its text ends.
	utcTime := func(at time.Time) [2]string {
		return [2]string{at.UTC().Format("2006-01-02T15:04:05Z"), "your time (" + at.UTC().Format("2 January 2006, 15:04") + " UTC)"}
	}
	timesAre := func(got [][2]string, want ...[2]string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i][0] != want[i][0] || !strings.HasSuffix(got[i][1], want[i][1]) || !strings.Contains(got[i][1], "GMT+5:30") {
				return false
			}
		}
		return true
	}

	api.answer.Store(&apiAnswer{http.StatusServiceUnavailable, []byte(`{"error":{"code":"election_unavailable","message":"the election record is not available"}}`)})
	logElectionReads(ctx, t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("vote-form")),
		chromedp.Focus(chromedp.ID("voter-id"))); err != nil {
		t.Fatal(err)
	}
	// Each failed read doubles the wait, each drawn from 3/4 to 5/4 of it:
	// 2 and 4 intervals after the first two reads.
	reads := awaitReads(ctx, t, "3 reads of a record answering 503", func(rs []pageRead) bool { return len(rs) >= 3 })
	for i, wait := 1, 2*poll; i < 3; i, wait = i+1, 2*wait {
		if gap := reads[i].after(reads[i-1]); gap < wait*3/4-10*time.Millisecond {
			t.Errorf("read %d of a record answering 503 came %s after read %d ended; want %s or more (3/4 of a wait doubled after each failed read): reads %+v",
				i+1, gap.Round(time.Millisecond), i, wait*3/4, reads)
		}
	}
	if heading, notice, _, _ := state("poll-unavailable"); heading != "Cast your vote" || notice != "window" {
		t.Errorf("with the record unavailable the page shows %q, %q; want it open", heading, notice)
	}

	// A read never answered is given up after one interval, and the reads
	// go on. The reads the page made by the time it is looked at may have
	// been answered before the change.
	api.answer.Store(&apiAnswer{})
	from := len(pageReads(ctx, t))
	awaitReads(ctx, t, "a read of a record never answered given up, then another read", func(rs []pageRead) bool {
		for i := from; i+1 < len(rs); i++ {
			if rs[i].givenUp() {
				return true
			}
		}
		return false
	})

	closedAt := time.Now().Add(-time.Minute)
	api.answer.Store(&apiAnswer{http.StatusOK, record(func(r *ballot.Election) { r.Status, r.ClosedAt = ballot.StatusClosed, closedAt })})
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("after-notice"))); err != nil {
		t.Fatalf("the page did not show the early close: %v", err)
	}
	heading, notice, times, focus := state("poll-closed")
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("vote-form").hidden`))
	if err != nil {
		t.Fatal(err)
	}
	if heading != "Voting is closed" || notice != "after-notice" || shown || focus != "after-notice" || !timesAre(times, utcTime(closedAt)) {
		t.Errorf("after the early close: heading %q, notice %q (times %q), form shown %v, focus on %q; "+
			"want \"Voting is closed\", the closed notice at %s with focus, no form", heading, notice, times, shown, focus, closedAt.UTC().Format(time.RFC3339))
	}
	// The absence of reads is watched for 1 s, 4 intervals: a page that
	// went on would read again within 312 ms of the close's answer.
	n := len(api.reads())
	time.Sleep(time.Second)
	if m := len(api.reads()); m != n {
		t.Errorf("the closed page read the record %d more times", m-n)
	}

	opens := time.Now().Add(time.Hour)
	api.answer.Store(&apiAnswer{http.StatusOK, record(func(r *ballot.Election) { r.OpensAt, r.ClosesAt = opens, opens.Add(time.Hour) })})
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("before-notice"))); err != nil {
		t.Fatalf("the page did not take the window set anew: %v", err)
	}
	heading, _, times, _ = state("poll-set-anew")
	if heading != "Voting is not open yet" || !timesAre(times, utcTime(opens), utcTime(opens.Add(time.Hour))) {
		t.Errorf("with the window set anew: heading %q, times %q; want \"Voting is not open yet\" and the new window", heading, times)
	}
}

// logElectionReads makes the page, from its next load, log its reads of
// the election record and when it is shown, on its own clock (ms of
// performance.now()): window.electionReads (pageRead's fields),
// window.shownAt (each visibilitychange to visible, seen before the
// page's own handler) and window.loadedAt (DOMContentLoaded, its script
// run). Gaps judged on that clock are the page's own waits: a slow fake
// API or test process does not bunch reads up, and a late timer only
// lengthens a gap.
func logElectionReads(ctx context.Context, t *testing.T) {
	t.Helper()
	const script = `(() => {
		const fetch0 = window.fetch;
		window.electionReads = [];
		window.shownAt = [];
		document.addEventListener("DOMContentLoaded", () => { window.loadedAt = performance.now(); });
		document.addEventListener("visibilitychange", () => { if (!document.hidden) window.shownAt.push(performance.now()); });
		window.fetch = (path, init) => {
			if (String(path) !== "/api/v1/election") return fetch0(path, init);
			const r = {at: performance.now(), hidden: document.hidden, done: 0, status: 0, retryAfter: ""};
			window.electionReads.push(r);
			const p = fetch0(path, init);
			p.then((a) => { r.done = performance.now(); r.status = a.status; r.retryAfter = a.headers.get("Retry-After") || ""; },
				() => { r.done = performance.now(); });
			return p;
		};
	})()`
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
		t.Fatalf("logging the page's record reads: %v", err)
	}
}

// pageRead is a read of the election record as the page logged it
// (logElectionReads): when it was made (At, ms of the page's clock) and
// ended (Done: its answer's head came or the page gave it up; 0 while under
// way), whether the page was hidden then, and the answer's status and
// Retry-After (Status 0: given up). The page's handling of a read comes
// after Done: its next wait is timed from later.
type pageRead struct {
	At, Done   float64
	Hidden     bool
	Status     int
	RetryAfter string
}

// givenUp reports whether the page gave r up before an answer came.
func (r pageRead) givenUp() bool { return r.Done > 0 && r.Status == 0 }

// after is how long after prev ended r was made.
func (r pageRead) after(prev pageRead) time.Duration { return ms(r.At - prev.Done) }

// ms is a span of the page's clock (performance.now(), in ms), to the
// millisecond.
func ms(span float64) time.Duration {
	return time.Duration(span * float64(time.Millisecond)).Round(time.Millisecond)
}

// pageReads is the page's log of its record reads (logElectionReads).
func pageReads(ctx context.Context, t *testing.T) []pageRead {
	t.Helper()
	reads, err := chromedp.Run(ctx, chromedp.Evaluate[[]pageRead](`window.electionReads`))
	if err != nil {
		t.Fatalf("reading the page's record reads: %v", err)
	}
	return reads
}

// awaitReads looks at the page's log of its record reads every 100 ms
// until ok is true of it, and returns it; after 30 s it fails t, saying
// it waited for what.
func awaitReads(ctx context.Context, t *testing.T, what string, ok func([]pageRead) bool) []pageRead {
	t.Helper()
	return awaitPage(ctx, t, what, `window.electionReads`, ok)
}

// awaitPage evaluates expression on the page every 100 ms until ok is
// true of its value, and returns that; after 30 s it fails t, saying it
// waited for what.
func awaitPage[T any](ctx context.Context, t *testing.T, what, expression string, ok func(T) bool) T {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s: %s is %+v", what, expression, v)
		}
	}
}

// TestRetryAfterInBrowser drives the page in headless Chromium with an open
// election and the record read every 250 ms on average. After a 503 with
// Retry-After: 3 (the gateway's election_unavailable has its
// --retry-after), then a 429 with Retry-After: 2 (its rate limit), the
// page reads the record again no sooner than that many seconds after the
// answer came (10 ms allowed for the timer), where its doubling wait would
// be 0.5 s, then 1 s, on average (at most 2.5 s). After a 200 it ignores
// the header (20 s here): the next read comes within 10 s. The gaps are
// judged on the page's clock (logElectionReads); the fake API's answer
// changes once the page has seen the one before, so a read the page gave
// up before its answer came (a loaded machine; it has no Retry-After to
// heed and is not judged) only makes the test wait for the next.
func TestRetryAfterInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	api, srv := pollServer(t, e, Config{PollInterval: 250 * time.Millisecond})
	ctx, cancel := context.WithTimeout(b, 2*time.Minute)
	defer cancel()
	answered := func(status int) func([]pageRead) bool {
		return func(rs []pageRead) bool {
			return slices.ContainsFunc(rs, func(r pageRead) bool { return r.Status == status })
		}
	}

	api.retryAfter.Store(3)
	api.answer.Store(&apiAnswer{http.StatusServiceUnavailable, []byte(`{"error":{"code":"election_unavailable","message":"the election record is not available"}}`)})
	logElectionReads(ctx, t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("vote-form"))); err != nil {
		t.Fatal(err)
	}
	awaitReads(ctx, t, "an answered 503", answered(http.StatusServiceUnavailable))
	// The answer first, then its Retry-After: a read between the two gets
	// the new answer with the old header, which is judged as it came.
	api.answer.Store(&apiAnswer{http.StatusTooManyRequests, []byte(`{"error":{"code":"rate_limited","message":"too many requests; slow down"}}`)})
	api.retryAfter.Store(2)
	awaitReads(ctx, t, "an answered 429", answered(http.StatusTooManyRequests))
	record, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	api.answer.Store(&apiAnswer{http.StatusOK, record})
	api.retryAfter.Store(20) // on a 200: ignored
	reads := awaitReads(ctx, t, "a read after an answered 200", func(rs []pageRead) bool {
		i := slices.IndexFunc(rs, func(r pageRead) bool { return r.Status == http.StatusOK })
		return i >= 0 && i+1 < len(rs)
	})

	judged := map[int]int{}
	for i := 1; i < len(reads); i++ {
		prev, gap := reads[i-1], reads[i].after(reads[i-1])
		var ok bool
		switch prev.Status {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			secs, err := strconv.Atoi(prev.RetryAfter)
			ok = err == nil && gap >= time.Duration(secs)*time.Second-10*time.Millisecond
		case http.StatusOK:
			ok = gap < 10*time.Second
		default: // given up: no answer to heed
			continue
		}
		judged[prev.Status]++
		if !ok {
			t.Errorf("read %d came %s after a %d with Retry-After: %q; want no sooner on a 503 or 429, within 10 s on a 200 (reads %+v)",
				i+1, gap.Round(time.Millisecond), prev.Status, prev.RetryAfter, reads)
		}
	}
	if judged[http.StatusServiceUnavailable] == 0 || judged[http.StatusTooManyRequests] == 0 || judged[http.StatusOK] == 0 {
		t.Errorf("the read after an answer judged for %v; want at least one 503, 429 and 200 (reads %+v)", judged, reads)
	}
}

// shotsDir is where the browser tests' screenshots go:
// .run/test/voter-page-browser in the repository.
func shotsDir(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, ".run", "test", "voter-page-browser")
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPollOnOpening: a page shown before the window reads no record (the
// read comes no sooner than the opening); when its timer opens the window, 1.5 s after the page was rendered (a
// pageClock), it reads the record within a quarter of an interval (here
// 5 s of 20), not a whole one (15 to 25 s), and so shows at once a close
// made while it waited. The read is timed where the fake API takes it,
// from the opening: within 10 s, halfway, so that a loaded machine has
// 5 s to spare.
func TestPollOnOpening(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	e.OpensAt = time.Now()
	clock := &pageClock{at: e.OpensAt.Add(-1500 * time.Millisecond)}
	closed := *e
	closed.Status, closed.ClosedAt = ballot.StatusClosed, clock.at
	record, err := json.Marshal(&closed)
	if err != nil {
		t.Fatal(err)
	}
	api, srv := pollServer(t, e, Config{PollInterval: 20 * time.Second, Now: clock.Now})
	api.answer.Store(&apiAnswer{http.StatusOK, record})
	ctx, cancel := context.WithTimeout(b, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("before-notice"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("after-notice"))); err != nil {
		t.Fatalf("the page did not show the close: %v", err)
	}
	// The page has the opening to the millisecond (UnixMilli): 5 ms allowed.
	opened := clock.started().Add(e.OpensAt.Sub(clock.at))
	if reads := api.reads(); len(reads) != 1 || reads[0].Before(opened.Add(-5*time.Millisecond)) || reads[0].Sub(opened) > 10*time.Second {
		late := "none"
		if len(reads) > 0 {
			late = reads[0].Sub(opened).Round(time.Millisecond).String()
		}
		t.Errorf("%d reads of the record, the first %s after the opening; want 1, not before the opening and within a quarter interval (5 s) of it, not a whole one (15 s or more)", len(reads), late)
	}
}

// TestHiddenTabInBrowser drives the page in headless Chromium with an open
// election and the record read every 5 s on average. Its window is
// minimised as soon as it is loaded (Chromium hides the page:
// document.hidden, a visibilitychange event) for 7.35 s past the end of
// its last read or its loading, in which a page that went on polling
// would read at least once (its wait 3.75 to 6.25 s, 5/4 of its wait
// longest, more if failed reads doubled it, put off at most to the next
// of the one-a-second timers of a hidden page, 0.1 s to spare): the page
// makes no read while hidden, up to its showing. Shown again, its last
// read older than its wait, it reads at once: less than 3.65 s after the
// showing, where a wait would be at least 3.75 s. Then it reads again a
// wait later (3/4 of an interval or more).
// The page logs its reads, their visibility and its showing on its own
// clock (logElectionReads), so a loaded machine does not bunch them up.
func TestHiddenTabInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	const poll = 5 * time.Second
	api, srv := pollServer(t, e, Config{PollInterval: poll})
	record, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	api.answer.Store(&apiAnswer{http.StatusOK, record})
	ctx, cancel := context.WithTimeout(b, 2*time.Minute)
	defer cancel()
	logElectionReads(ctx, t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("vote-form"))); err != nil {
		t.Fatal(err)
	}
	loaded := awaitPage(ctx, t, "the page's loading", `window.loadedAt || 0`, func(at float64) bool { return at > 0 })

	showWindow(t, ctx, browser.WindowStateMinimized, "hidden")
	// Reads made before the page was hidden (a loaded machine) move the
	// quiet time on, and a failed one doubles the wait.
	reads := awaitReads(ctx, t, "the end of the reads under way", func(rs []pageRead) bool {
		return !slices.ContainsFunc(rs, func(r pageRead) bool { return r.Done == 0 })
	})
	// The page's next wait is timed from after a read's answer, so the
	// quiet time from its end.
	quiet, wait := loaded, poll
	for _, r := range reads {
		quiet, wait = r.Done, min(2*wait, 8*poll)
		if r.Status == http.StatusOK {
			wait = poll
		}
	}
	hide := wait*5/4 + time.Second + 100*time.Millisecond
	now, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.now()`))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(ms(quiet-now) + hide)

	// The showing is the first visibilitychange to visible from here: an
	// earlier one (Chromium's, before the hide) is not it.
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.shownAt.length`))
	if err != nil {
		t.Fatal(err)
	}
	showWindow(t, ctx, browser.WindowStateNormal, "visible")
	shown := awaitPage(ctx, t, "the page's showing", `window.shownAt`, func(at []float64) bool { return len(at) > before })[before]
	// Every read up to the showing counts, those after the sleep too; all
	// are in the log by the time the showing is.
	if reads := pageReads(ctx, t); slices.ContainsFunc(reads, func(r pageRead) bool { return r.At < shown && r.Hidden }) {
		t.Errorf("the hidden page read the record: reads %+v, shown at %.0f", reads, shown)
	}
	reads = awaitReads(ctx, t, "two reads once the page was shown again", func(rs []pageRead) bool {
		i := slices.IndexFunc(rs, func(r pageRead) bool { return r.At >= shown })
		return i >= 0 && i+1 < len(rs)
	})
	i := slices.IndexFunc(reads, func(r pageRead) bool { return r.At >= shown })
	t.Logf("shown again %s after the end of its last read or its loading, the page read the record %s after the showing, then %s after that read",
		ms(shown-quiet), ms(reads[i].At-shown), reads[i+1].after(reads[i]).Round(time.Millisecond))
	if late := ms(reads[i].At - shown); late >= poll*3/4-100*time.Millisecond {
		t.Errorf("the page shown again read the record %s later, its last read ended %s before; want at once (under %s), not after a wait of %s or more",
			late, ms(shown-quiet), poll*3/4-100*time.Millisecond, poll*3/4)
	}
	if gap := reads[i+1].after(reads[i]); gap < poll*3/4-10*time.Millisecond {
		t.Errorf("the page read the record again %s after the read at its showing; want a wait, %s or more", gap.Round(time.Millisecond), poll*3/4)
	}
}

// showWindow sets the state of the window of ctx's page and waits up to
// 30 s for the page's document.visibilityState to be want.
func showWindow(t *testing.T, ctx context.Context, state browser.WindowState, want string) {
	t.Helper()
	w, err := chromedp.Call(ctx, browser.GetWindowForTarget, browser.GetWindowForTargetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &browser.Bounds{WindowState: state}}); err != nil {
		t.Fatalf("window %s: %v", state, err)
	}
	awaitPage(ctx, t, "visibilityState "+want+" with the window "+string(state), `document.visibilityState`, func(got string) bool { return got == want })
}
