// Package voterweb is the voter's web page, served by the gateway at /vote:
// one server-side HTML page listing the election's contests and a small
// script (static/voter.js) that casts through the JSON API (POST
// /api/v1/vote, one request per chosen contest), offers the receipt as a
// JSON file, and checks a vote later (GET /api/v1/votes/{vote_id}): pending, or
// counted with its Merkle path drawn from leaf to root, or the reason it
// was rejected. The page loads nothing from elsewhere and is served under a
// strict Content-Security-Policy (CSP).
//
// With Config.ExplorerURL, the page also links to a block explorer
// (explorer/web) that the election's auditors or observers run: its results
// and its receipt verification, where a voter checks a vote on a node the
// gateway's operator does not control. Those links are the page's only
// ones to another site; without the setting it has none.
//
// The page is rendered in one of three phases of the voting window (see
// Phase): before it, a notice of when voting opens and no usable vote
// form; in it, the form; after it, a notice that voting has closed and
// where to check votes and read the results. "Check my vote" is there in
// every phase, and the heading of the vote's section names the phase. The
// script moves the page from phase to phase when the window opens or ends
// while it is open, on the gateway's clock. While the window is open it
// also reads the election record (GET /api/v1/election) about every
// Config.PollInterval, less often after failed reads, never before the
// Retry-After of a 503 or 429 answer has passed (at most 10 minutes of it),
// and not while its tab is hidden: a record closed or finalised (an
// operator's early close) moves the page to the closed phase, and one set
// up anew gives the page its window. The gateway still decides when a vote
// is sent.
//
// The page holds no rules of its own: the API decides and words every
// refusal, and the page shows those words.
package voterweb

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Path is where the page is served; its files are under Path+"/static/".
const Path = "/vote"

// CSP is the Content-Security-Policy of every answer: nothing but the
// page's own script and style, forms post only to the gateway, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

//go:embed templates/page.html
var pageHTML string

//go:embed static
var staticFS embed.FS

// Elections gives the current election record (implemented by
// *election.Cache).
type Elections interface {
	Election(ctx context.Context) (*ballot.Election, error)
}

// Reasons words each ledger rejection reason (ballot.Reject*) for voters;
// the page shows the words with the code. Each call returns a new map, so
// no caller can change the words for the others.
func Reasons() map[string]string {
	return map[string]string{
		ballot.RejectDuplicate:      "another vote with the same voter id and credential in this contest was counted first",
		ballot.RejectUnknownContest: "the contest is not on this election's ballot",
		ballot.RejectUnknownChoice:  "the choice is not one of the contest's",
		ballot.RejectOutsideWindow:  "the vote was cast outside the voting window",
		ballot.RejectCastAfterTx:    "the vote's time is after the ledger transaction that recorded it",
		ballot.RejectNotOnRoll:      "the voter id and credential are not on the sealed roll of this state and contest",
	}
}

// Phase is where a moment lies against an election's voting window, as the
// page shows it.
type Phase string

const (
	// PhaseBefore: the election is configured and its window has not
	// opened yet.
	PhaseBefore Phase = "before"
	// PhaseOpen: the election takes votes (ballot.Election.OpenAt).
	PhaseOpen Phase = "open"
	// PhaseAfter: the window has ended (at WindowEnd, the early close
	// included), or the election is closed or finalised.
	PhaseAfter Phase = "after"
)

// headings are the vote section's heading in each phase; the page data
// carries them for the script.
var headings = map[Phase]string{
	PhaseBefore: "Voting is not open yet",
	PhaseOpen:   "Cast your vote",
	PhaseAfter:  "Voting is closed",
}

// PhaseAt gives the phase of e at t. It agrees with e.OpenAt(t), the
// gateway's test for taking a vote: PhaseOpen exactly when that is true.
func PhaseAt(e *ballot.Election, t time.Time) Phase {
	switch {
	case e.OpenAt(t):
		return PhaseOpen
	case e.Status == ballot.StatusConfigured && t.Before(e.OpensAt):
		return PhaseBefore
	default:
		return PhaseAfter
	}
}

// Config is the page's settings; DefaultConfig gives the defaults of its
// zero fields.
type Config struct {
	// ExplorerURL, if set, is the base URL of the explorer the page links
	// to (its results and its /verify page): an absolute http or https
	// URL with no query or fragment, as cli.CheckExplorerURL checks a
	// flag's; New refuses one that is not absolute http or https. Empty:
	// the page links to the gateway's own JSON only.
	ExplorerURL string
	// Now is the clock the page's phase is read on: the gateway's, the one
	// it takes votes on.
	Now func() time.Time
	// PollInterval is how often, on average, the script reads the election
	// record while the page is in the open phase and its tab is shown:
	// each wait is drawn from 3/4 to 5/4 of it (so that pages opened
	// together do not ask together), and doubles after each failed read,
	// up to 8 times it; a 503 or 429 answer's Retry-After (whole seconds,
	// up to 10 minutes) holds the next read back further. A read is given
	// up after one interval. It bounds how long a page in a shown tab goes
	// on offering the form after an early close. At least a millisecond.
	PollInterval time.Duration
	// RetryAfter is the wait the page's 503 (no election record yet)
	// advises in its Retry-After header, in whole seconds rounded up, at
	// least 1 (as the API's 503 answers advise theirs): the gateway gives
	// it its --retry-after.
	RetryAfter time.Duration
}

// DefaultConfig returns the defaults for zero fields of Config: no
// explorer, the wall clock, a read of the election record every 45
// seconds, a Retry-After of 2 seconds (the gateway's --retry-after
// default).
func DefaultConfig() Config {
	return Config{Now: time.Now, PollInterval: 45 * time.Second, RetryAfter: 2 * time.Second}
}

// Deps are the page's collaborators; both are required.
type Deps struct {
	Elections Elections
	Log       *slog.Logger
}

// explorerPages are the explorer's pages the voter page links to.
type explorerPages struct {
	// Results is the explorer's results, recounted from the ledger: the
	// results section of its dashboard (/#results).
	Results string
	// Verify is its receipt verification page (/verify); the script
	// adds ?vote_id=… for each vote checked.
	Verify string
}

// explorerPagesAt gives the pages of the explorer at base (a trailing
// slash ignored), or an error if base is not an absolute http or https URL.
func explorerPagesAt(base string) (*explorerPages, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("voterweb: explorer URL %q is not an absolute http or https URL", base)
	}
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), ""
	results, verify := *u, *u
	results.Path, results.Fragment = u.Path+"/", "results"
	verify.Path += "/verify"
	return &explorerPages{Results: results.String(), Verify: verify.String()}, nil
}

// Handler serves the page and its static files.
type Handler struct {
	elections Elections
	log       *slog.Logger
	now       func() time.Time
	poll      time.Duration
	// retryAfter is the Retry-After header of the page's 503, in seconds.
	retryAfter string
	explorer   *explorerPages // nil: no explorer
	page       *template.Template
	mux        *http.ServeMux
}

// New builds the handler. It refuses a PollInterval under a millisecond
// (other than zero, the default) and an ExplorerURL that is not absolute
// http or https.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.Elections == nil || deps.Log == nil {
		return nil, errors.New("voterweb: Deps needs Elections and Log")
	}
	d := DefaultConfig()
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	switch {
	case cfg.PollInterval == 0:
		cfg.PollInterval = d.PollInterval
	case cfg.PollInterval < time.Millisecond:
		return nil, fmt.Errorf("voterweb: poll interval %v is under a millisecond", cfg.PollInterval)
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = d.RetryAfter
	}
	retrySecs := max(int64((cfg.RetryAfter+time.Second-1)/time.Second), 1)
	h := &Handler{elections: deps.Elections, log: deps.Log, now: cfg.Now, poll: cfg.PollInterval,
		retryAfter: strconv.FormatInt(retrySecs, 10), mux: http.NewServeMux()}
	if cfg.ExplorerURL != "" {
		var err error
		if h.explorer, err = explorerPagesAt(cfg.ExplorerURL); err != nil {
			return nil, err
		}
	}
	page, err := template.New("page").Parse(pageHTML)
	if err != nil {
		return nil, err
	}
	h.page = page
	static, _ := fs.Sub(staticFS, "static")
	h.mux.HandleFunc("GET "+Path+"", h.servePage)
	h.mux.Handle("GET "+Path+"/static/", http.StripPrefix(Path+"/static/", http.FileServerFS(static)))
	return h, nil
}

// ServeHTTP serves GET /vote and GET /vote/static/*; every answer carries
// the CSP and refuses MIME sniffing and referrers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// pageData is what the page template shows.
type pageData struct {
	Election *ballot.Election
	// Single is true when the election has one contest: the page shows
	// just that contest and the vote names none.
	Single  bool
	Reasons map[string]string
	// Error is set when the election record is not available.
	Error string
	// Opens and Closes are the voting window (Closes: the early close, if
	// any); Phase is where Now, the gateway's time when the page was
	// rendered, lies against it. The script reads them to move the
	// page on when the window opens or ends.
	Opens, Closes moment
	Now           time.Time
	Phase         Phase
	// Headings are the vote section's heading in each phase.
	Headings map[Phase]string
	// Poll is Config.PollInterval, for the script.
	Poll time.Duration
	// Explorer is where the page links to the explorer (nil: nowhere).
	Explorer *explorerPages
}

// moment is a moment of the voting window as the page shows it. Edge
// ("opens" or "closes") is its key in the page data; the script finds its
// <time> elements by it when the election record gives a new window.
type moment struct {
	Edge string
	time.Time
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	d := pageData{Reasons: Reasons(), Headings: headings, Poll: h.poll, Explorer: h.explorer}
	status := http.StatusOK
	e, err := h.elections.Election(r.Context())
	if err != nil {
		h.log.Warn("voter page: no election record", "err", err)
		d.Error = "The election record is not available yet; please try again shortly."
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", h.retryAfter)
	} else {
		d.Election, d.Single = e, len(e.Contests) == 1
		d.Now = h.now()
		d.Opens, d.Closes = moment{"opens", e.OpensAt}, moment{"closes", e.WindowEnd()}
		d.Phase = PhaseAt(e, d.Now)
	}
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, d); err != nil {
		h.log.Error("voter page", "err", err)
		http.Error(w, "the page could not be built", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
