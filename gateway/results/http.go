package results

import (
	"errors"
	"net/http"
	"strings"
)

// cacheControl lets clients and proxies reuse a response for a second:
// results change with every block, so longer would show stale counts.
const cacheControl = "public, max-age=1"

// The header values Write sets, built once and shared by every answer
// (with the snapshot's etagHeader), so setting them allocates nothing.
// They are never modified in place: Header.Set replaces a value and
// Header.Add appends to a full slice, which copies it.
var (
	cacheControlHeader = []string{cacheControl}
	jsonHeader         = []string{"application/json"}
)

// Errors of All, Contest and ContestState, for the API to map to 503 and 404.
var (
	ErrLoading        = errors.New("results are being loaded from the ledger")
	ErrUnknownContest = errors.New("no such contest in this election")
	ErrUnknownState   = errors.New("no such state in this election")
)

// Response is a pre-encoded results body and its entity tag.
type Response struct{ e encoded }

// All returns the national and per-state results.
func (c *Cache) All() (Response, error) {
	snap := c.snap.Load()
	if snap == nil {
		return Response{}, ErrLoading
	}
	return Response{snap.all}, nil
}

// Contest returns one contest's results, nationally and per state.
func (c *Cache) Contest(contest string) (Response, error) {
	p, err := c.contest(contest)
	return Response{p.all}, err
}

// ContestState returns one contest's results in one state.
func (c *Cache) ContestState(contest, state string) (Response, error) {
	p, err := c.contest(contest)
	if err != nil {
		return Response{}, err
	}
	e, ok := p.states[state]
	if !ok {
		return Response{}, ErrUnknownState
	}
	return Response{e}, nil
}

func (c *Cache) contest(contest string) (contestPages, error) {
	snap := c.snap.Load()
	if snap == nil {
		return contestPages{}, ErrLoading
	}
	p, ok := snap.contests[contest]
	if !ok {
		return contestPages{}, ErrUnknownContest
	}
	return p, nil
}

// Write answers the request with the body, or 304 Not Modified when the
// request's If-None-Match names the current ETag.
func (r Response) Write(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	etag := r.e.etagHeader
	if len(etag) == 0 { // a Response not from a Cache
		etag = []string{r.e.etag}
	}
	h["Etag"] = etag[:1:1]
	h["Cache-Control"] = cacheControlHeader[:1:1]
	// net/http keys request headers in canonical form: index the map
	// rather than canonicalise the name per request (Header.Get).
	if match := req.Header["If-None-Match"]; len(match) > 0 && match[0] != "" && etagMatches(match[0], r.e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = jsonHeader[:1:1]
	w.WriteHeader(http.StatusOK)
	w.Write(r.e.body)
}

// Body is the encoded JSON (for benchmarks and tests).
func (r Response) Body() []byte { return r.e.body }

// etagMatches implements If-None-Match's list and "*" forms.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
