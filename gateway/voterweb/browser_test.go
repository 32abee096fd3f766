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
	if testing.Short() {
		t.Skip("drives headless Chromium: skipped under -short (run make test)")
	}
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
	_, data := browsertest.Downloaded(t, downloads, "votechain-receipt-*.json", 10*time.Second)
	if err := json.Unmarshal(data, &saved); err != nil || len(saved.Votes) != 1 || saved.Votes[0].VoteID != fakeVoteID ||
		saved.Votes[0].Acceptance.Head.KeyID != "k1" {
		t.Errorf("downloaded %s: %v", data, err)
	}

	// The signed acceptance receipt alone, one JSON object per line as
	// verify --acceptance reads it.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("download-acceptance"))); err != nil {
		t.Fatal(err)
	}
	_, acc := browsertest.Downloaded(t, downloads, "votechain-acceptance-*.json", 10*time.Second)
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
// answers 503 head_pending once. The page asks again once the answer's
// Retry-After has passed (2 s: not after 1 s, as without it; 10 ms allowed
// for the timer, 1 s for a loaded machine), after 1 s when it has none,
// and not at all when it asks for more than the cast waits in all (30 s
// over 10 s): then the page shows the head_pending answer in words.
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
		{"2", 2 * time.Second, "signed acceptance receipt received (entry 4 of the CA intake log"},
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
		} else if gap := calls[len(calls)-1].Sub(calls[0]); c.gap > 0 && (gap < c.gap-10*time.Millisecond || gap > c.gap+time.Second) {
			t.Errorf("Retry-After %q: the page asked again %s after the head_pending; want %s to %s",
				c.retryAfter, gap.Round(time.Millisecond), c.gap, c.gap+time.Second)
		}
	}
}

// TestVotingWindowInBrowser drives the page in headless Chromium with the
// voter in Asia/Kolkata (UTC+5:30) and the gateway's clock years from the
// browser's, three seconds before a window of three seconds opens. The
// page says when voting opens, in the voter's time and in UTC, and shows
// no form; when the window opens the form appears with no reload (timed on
// the gateway's clock); when it ends while the voter is typing, the form
// goes and focus moves to the notice that voting has closed, and "Check my
// vote" stays. Screenshots go to .run/test/voter-page-browser.
func TestVotingWindowInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := windowAt()
	e.ClosesAt = e.OpensAt.Add(3 * time.Second)
	start, began := time.Now(), e.OpensAt.Add(-3*time.Second)
	h, err := New(Config{Now: func() time.Time { return began.Add(time.Since(start)) }}, Deps{Elections: fakeElections{e: e}, Log: slog.New(slog.DiscardHandler)})
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

// browserInKolkata starts Chromium for t with the voter's clock in
// Asia/Kolkata (UTC+5:30); under -short it skips t.
func browserInKolkata(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("drives headless Chromium: skipped under -short (run make test)")
	}
	b := browsertest.New(t)
	if _, err := chromedp.Call(b, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// electionAPI answers GET /api/v1/election with the answer stored last,
// with a Retry-After of retryAfter seconds when that is not 0, and counts
// and logs the reads.
type electionAPI struct {
	answer     atomic.Pointer[apiAnswer]
	retryAfter atomic.Int64
	reads      atomic.Int64
	mu         sync.Mutex
	log        []apiRead
}

// apiRead is a read of the record: when it came, how it was answered, and
// its number on the page (its "n" query parameter, set by
// numberElectionReads; 0 without).
type apiRead struct {
	at         time.Time
	status     int
	retryAfter int64
	n          int
}

// apiAnswer is the fake API's answer; status 0: none, the request is held
// until its client gives up (or for 5 s, so that a page that never gives
// up fails the test rather than hanging it).
type apiAnswer struct {
	status int
	body   []byte
}

func (a *electionAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.reads.Add(1)
	ans, ra := a.answer.Load(), a.retryAfter.Load()
	a.mu.Lock()
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	a.log = append(a.log, apiRead{time.Now(), ans.status, ra, n})
	a.mu.Unlock()
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

// readsReach waits up to within for the record's nth read, and reports
// whether it came.
func (a *electionAPI) readsReach(n int64, within time.Duration) bool {
	for deadline := time.Now().Add(within); a.reads.Load() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// pollServer serves the voter page of election e, its record read every
// poll on average from the fake API it returns, which needs an answer
// stored before the page reads it.
func pollServer(t *testing.T, e *ballot.Election, poll time.Duration) (*electionAPI, *httptest.Server) {
	t.Helper()
	h, err := New(Config{PollInterval: poll}, Deps{Elections: fakeElections{e: e}, Log: slog.New(slog.DiscardHandler)})
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
// 100 ms on average. While the API answers 503, the page stays open and
// reads the record less and less often; a read the API never answers is
// given up, and the reads go on. Once the record says the election
// was closed a minute ago, the page moves to the closed phase without a
// reload: no form, the closed notice (with focus, the voter having been in
// the form) at the early close, the heading "Voting is closed", and no
// more reads. A page whose record says the election was set up anew to
// open in an hour moves back to the notice of when voting opens, at the
// new time. Screenshots go to .run/test/voter-page-browser.
func TestElectionPollInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	// 250 ms: the page gives up a read after one interval, and a read the
	// page gave up on has no Retry-After to heed; its backoff (up to 8
	// intervals, 2 s) stays within the gaps judged below.
	api, srv := pollServer(t, e, 250*time.Millisecond)
	shots := shotsDir(t)
	ctx, cancel := context.WithTimeout(b, 30*time.Second)
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
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("vote-form")),
		chromedp.Focus(chromedp.ID("voter-id"))); err != nil {
		t.Fatal(err)
	}
	// Waits of 100, 200, 400, 800, 800 ms, each ±25%: 4 or 5 reads in 2 s
	// (20 without the backoff).
	time.Sleep(2 * time.Second)
	if n := api.reads.Load(); n < 2 || n > 7 {
		t.Errorf("%d reads of a record answering 503 in 2 s; want 2 to 7 (a wait doubling from 100 ms to 800)", n)
	}
	if heading, notice, _, _ := state("poll-unavailable"); heading != "Cast your vote" || notice != "window" {
		t.Errorf("with the record unavailable the page shows %q, %q; want it open", heading, notice)
	}

	// A read never answered is given up after one interval (100 ms), then
	// the wait (at most 800 ms ±25%) goes by: 2 more reads within ~2.3 s,
	// where a read that waited for its answer would be the last. 5 s are
	// allowed for the timers of a browser on a loaded machine (2.5 s fell
	// one read short once in a make test).
	api.answer.Store(&apiAnswer{})
	n := api.reads.Load()
	for deadline := time.Now().Add(5 * time.Second); api.reads.Load()-n < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%d reads in 5 s of a record never answered; want 2 or more (each given up after 100 ms)", api.reads.Load()-n)
			break
		}
	}

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
	n = api.reads.Load()
	time.Sleep(time.Second)
	if m := api.reads.Load(); m != n {
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

// numberElectionReads makes the page, from its next load, number its reads
// of the election record (query parameter n, from 1, which the fake API
// logs) and keep, by number, whether each got an answer before the page
// gave it up (window.electionReads[n-1]: true answered, false given up,
// null under way). A read given up on a loaded machine has no Retry-After
// to heed, so the gap after it is not the page's to keep.
func numberElectionReads(ctx context.Context, t *testing.T) {
	t.Helper()
	const script = `(() => {
		const fetch0 = window.fetch;
		window.electionReads = [];
		window.fetch = (path, init) => {
			if (String(path) !== "/api/v1/election") return fetch0(path, init);
			const i = window.electionReads.push(null) - 1;
			const p = fetch0(path + "?n=" + (i + 1), init);
			p.then(() => { window.electionReads[i] = true; }, () => { window.electionReads[i] = false; });
			return p;
		};
	})()`
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
		t.Fatalf("numbering the page's record reads: %v", err)
	}
}

// givenUp is the set of election-record reads (by number) the page gave up
// before an answer came.
func givenUp(ctx context.Context, t *testing.T) map[int]bool {
	t.Helper()
	reads, err := chromedp.Run(ctx, chromedp.Evaluate[[]*bool](`window.electionReads`))
	if err != nil {
		t.Fatalf("reading the page's record reads: %v", err)
	}
	up := map[int]bool{}
	for i, answered := range reads {
		if answered != nil && !*answered {
			up[i+1] = true
		}
	}
	return up
}

// TestRetryAfterInBrowser drives the page in headless Chromium with an open
// election and the record read every 250 ms on average. While the API
// answers 503 with Retry-After: 2 (as the gateway's election_unavailable
// does), then 429 with Retry-After: 1 (its rate limit), the page reads the
// record again each time once that many seconds have passed since the
// answer, not sooner (10 ms allowed for the timer) and not 2 s later (its
// doubling wait is at most 2 s here). Once the record is answered (200, the
// header ignored there), the reads go on every 250 ms or so: 6 within 6 s.
// A read the page gave up before its answer came (a loaded machine; the
// page numbers its reads, numberElectionReads) is held to the backoff
// only; at least one answered 503 and one answered 429 must be judged.
func TestRetryAfterInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	// 250 ms: the page gives up a read after one interval, and a read the
	// page gave up on has no Retry-After to heed; its backoff (up to 8
	// intervals, 2 s) stays within the gaps judged below.
	api, srv := pollServer(t, e, 250*time.Millisecond)
	ctx, cancel := context.WithTimeout(b, 30*time.Second)
	defer cancel()

	api.retryAfter.Store(2)
	api.answer.Store(&apiAnswer{http.StatusServiceUnavailable, []byte(`{"error":{"code":"election_unavailable","message":"the election record is not available"}}`)})
	numberElectionReads(ctx, t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("vote-form"))); err != nil {
		t.Fatal(err)
	}
	if !api.readsReach(3, 8*time.Second) {
		t.Fatalf("%d reads of a record answering 503 with Retry-After: 2 in 8 s; want 3", api.reads.Load())
	}
	api.answer.Store(&apiAnswer{http.StatusTooManyRequests, []byte(`{"error":{"code":"rate_limited","message":"too many requests; slow down"}}`)})
	api.retryAfter.Store(1)
	if n := api.reads.Load(); !api.readsReach(n+2, 6*time.Second) {
		t.Fatalf("%d reads of a record answering 429 with Retry-After: 1 in 6 s; want 2", api.reads.Load()-n)
	}
	record, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	api.answer.Store(&apiAnswer{http.StatusOK, record})
	api.retryAfter.Store(5) // on a 200: heeded, 6 reads would take 25 s
	// The first read may wait out the doubled wait (up to 2 s) of the
	// errors before; then one every 250 ms or so.
	if n := api.reads.Load(); !api.readsReach(n+6, 6*time.Second) {
		t.Errorf("%d reads in 6 s once the record was answered; want 6 (after at most 2 s, every 250 ms or so: a 200's Retry-After ignored)", api.reads.Load()-n)
	}

	api.mu.Lock()
	reads := slices.Clone(api.log)
	api.mu.Unlock()
	up := givenUp(ctx, t)
	judged := map[int]int{}
	for i := 1; i < len(reads); i++ {
		prev := reads[i-1]
		if prev.status != http.StatusServiceUnavailable && prev.status != http.StatusTooManyRequests {
			continue
		}
		if prev.n == 0 || reads[i].n != prev.n+1 {
			t.Fatalf("reads %d and %d of the record are the page's %d and %d; want numbered one after the other", i, i+1, prev.n, reads[i].n)
		}
		gap, least := reads[i].at.Sub(prev.at), time.Duration(prev.retryAfter)*time.Second
		if up[prev.n] {
			// Given up before its answer came: only the backoff holds.
			least = 0
		} else {
			judged[prev.status]++
		}
		if gap < least-10*time.Millisecond || gap > least+2*time.Second {
			t.Errorf("read %d came %s after a %d with Retry-After: %d (given up by the page: %v); want %s to %s later",
				i+1, gap.Round(time.Millisecond), prev.status, prev.retryAfter, up[prev.n], least, least+2*time.Second)
		}
	}
	if judged[http.StatusServiceUnavailable] == 0 || judged[http.StatusTooManyRequests] == 0 {
		t.Errorf("Retry-After judged after %d answered 503s and %d answered 429s; want at least one of each (reads given up: %v)",
			judged[http.StatusServiceUnavailable], judged[http.StatusTooManyRequests], up)
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

// TestPollOnOpening: a page shown before the window reads no record; when
// its timer opens the window, it reads the record within a quarter of an
// interval (here 5 s of 20), not a whole one (15 to 25 s), and so shows
// at once a close made while it waited.
func TestPollOnOpening(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	e.OpensAt = time.Now().Add(1500 * time.Millisecond)
	closed := *e
	closed.Status, closed.ClosedAt = ballot.StatusClosed, time.Now()
	record, err := json.Marshal(&closed)
	if err != nil {
		t.Fatal(err)
	}
	api, srv := pollServer(t, e, 20*time.Second)
	api.answer.Store(&apiAnswer{http.StatusOK, record})
	ctx, cancel := context.WithTimeout(b, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("before-notice"))); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("after-notice"))); err != nil {
		t.Fatalf("the page did not show the close: %v", err)
	}
	if took := time.Since(start); took > 9*time.Second {
		t.Errorf("the close showed %s after the page was shown; want within the opening (1.5 s) and a quarter interval (5 s)", took.Round(time.Millisecond))
	}
	if n := api.reads.Load(); n != 1 {
		t.Errorf("%d reads of the record; want 1, after the opening", n)
	}
}

// TestHiddenTabInBrowser drives the page in headless Chromium with an open
// election and the record read every 1.5 s on average. While its window is
// minimised (Chromium hides the page: document.hidden, a visibilitychange
// event), the page reads no record in 6 s, but for one under way when it
// was hidden, where it would otherwise read three or four (its own waits
// put off to the one-a-second timers of a hidden page: two in 4.5 s without
// the pause). Shown again, it reads at once (within 1 s of showWindow's
// return, where its next wait, from the showing, before that return, would
// be at least 1125 ms): its last read is older than the wait. Then it
// reads every 1.5 s or so again.
func TestHiddenTabInBrowser(t *testing.T) {
	b := browserInKolkata(t)
	e := referendum()
	api, srv := pollServer(t, e, 1500*time.Millisecond)
	record, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	api.answer.Store(&apiAnswer{http.StatusOK, record})
	ctx, cancel := context.WithTimeout(b, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/vote"), chromedp.WaitVisible(chromedp.ID("vote-form"))); err != nil {
		t.Fatal(err)
	}
	if !api.readsReach(2, 5*time.Second) {
		t.Fatalf("%d reads of the record in 5 s in a shown page; want 2 or more", api.reads.Load())
	}

	showWindow(t, ctx, browser.WindowStateMinimized, "hidden")
	n := api.reads.Load()
	time.Sleep(6 * time.Second)
	if m := api.reads.Load(); m-n > 1 {
		t.Errorf("the hidden page read the record %d times in 6 s; want at most the one under way when it was hidden", m-n)
	}

	n = api.reads.Load()
	showWindow(t, ctx, browser.WindowStateNormal, "visible")
	// The page turned visible, reading at once or scheduling its next
	// read, before showWindow returned: a read at once comes within 1 s of
	// here however slow showWindow was, and one after a wait (1125 ms or
	// more from the showing) only if showWindow returned 125 ms or more
	// after the showing (its polling: every 20 ms).
	if !api.readsReach(n+1, time.Second) {
		t.Errorf("no read of the record within 1 s of the page shown again, its last read 6 s before; want one at once, not after a wait of 1125 ms or more")
	}
	if !api.readsReach(n+3, 5*time.Second) {
		t.Errorf("%d reads of the record in 5 s once the page was shown again; want 3 or more", api.reads.Load()-n)
	}
}

// showWindow sets the state of the window of ctx's page and waits up to 2 s
// for the page's document.visibilityState to be want.
func showWindow(t *testing.T, ctx context.Context, state browser.WindowState, want string) {
	t.Helper()
	w, err := chromedp.Call(ctx, browser.GetWindowForTarget, browser.GetWindowForTargetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &browser.Bounds{WindowState: state}}); err != nil {
		t.Fatalf("window %s: %v", state, err)
	}
	var got string
	for deadline := time.Now().Add(2 * time.Second); got != want; time.Sleep(20 * time.Millisecond) {
		if got, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.visibilityState`)); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the window %s the page's visibilityState is %q after 2 s; want %q", state, got, want)
		}
	}
}
