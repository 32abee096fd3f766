package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRefusals walks the refusals of every route on an index of a
// referendum: each bad input is answered with its 4xx, in JSON with the
// error code under /api/v1/ and as a whole HTML page with the message
// elsewhere, 405s with their Allow header. Found wanting before: the block
// and batch pages stopped at their <title> on any error (the template
// read the view the error left nil), the mux's own 404 and 405 were plain
// text, a malformed state or vote id was "not in the index", POST /verify
// of another media type or of nothing answered 200 with no verdict, and
// page=+2 was page 2.
func TestRefusals(t *testing.T) {
	r := newReferendum(t)
	s := r.server(t, fakeLedger{r.Results})
	state, voteID := r.Batches[0].State, r.Batches[0].Votes[0].ID
	upper := strings.Repeat("AB", 16) // a vote id upper-cased
	form, js := "application/x-www-form-urlencoded", "application/json"
	for _, c := range []struct {
		method, path, contentType, body string
		status                          int
		want                            string // the JSON error code, a part of the HTML page's message, or of a 200's body
		allow                           string
	}{
		// numbers: signs, hex, fractions, past int64, past the height
		{"GET", "/api/v1/blocks/-1", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks/%2B1", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks/0x1", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks/1.0", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks/99999999999999999999999", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks/99", "", "", 404, "not_found", ""},
		{"GET", "/blocks/-1", "", "", 400, `block number &#34;-1&#34; is not a number`, ""},
		{"GET", "/blocks/99", "", "", 404, "block 99: not in the index", ""},
		{"GET", "/api/v1/batches/" + state + "/x", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/batches/" + state + "/-1", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/batches/" + state + "/99", "", "", 404, "not_found", ""},
		{"GET", "/batches/" + state + "/%2B1", "", "", 400, "batch seq", ""},
		{"GET", "/batches/" + state + "/99", "", "", 404, "not in the index", ""},
		// pages: only digits; a page past the last is the last (TestPagePastTheLast)
		{"GET", "/api/v1/blocks?page=0", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks?page=-1", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks?page=%2B2", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks?page=0x2", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/blocks?page=abc&page=1", "", "", 400, "bad_request", ""}, // the first of a repeated parameter
		{"GET", "/api/v1/audit?page=x", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/batches/" + state + "/1?page=-3", "", "", 400, "bad_request", ""},
		{"GET", "/blocks?page=x", "", "", 400, "page &#34;x&#34; is not a positive number", ""},
		// states and vote ids: a malformed one is no state or vote of the index
		{"GET", "/api/v1/batches?state=" + strings.ToLower(state), "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/batches?state=" + strings.Repeat("A", 300), "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/batches?state=ZZ", "", "", 200, `"batches": []`, ""}, // well-formed: no batches
		{"GET", "/api/v1/batches/" + strings.ToLower(state) + "/1", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/batches/..%2F..%2Fetc/1", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/batches/ZZ/1", "", "", 404, "not_found", ""},
		{"GET", "/batches/" + strings.ToLower(state) + "/1", "", "", 400, "is not a state code", ""},
		{"GET", "/api/v1/votes/" + upper + "/receipt", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/votes/" + voteID[:31] + "/receipt", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/votes/" + voteID + "0/receipt", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/votes/" + strings.Repeat("f", 32) + "/receipt", "", "", 404, "not_found", ""},
		{"GET", "/api/v1/verify?vote_id=zz", "", "", 400, "bad_request", ""},
		{"GET", "/verify?vote_id=" + upper, "", "", 400, "is not a vote id", ""},
		{"GET", "/api/v1/txs/..%2F..%2Fetc", "", "", 404, "not_found", ""}, // any id a transaction may carry
		// search
		{"GET", "/api/v1/search?q=%20", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/search?q=-1", "", "", 404, "not_found", ""},
		{"GET", "/api/v1/search?q=" + strings.Repeat("a", 5000), "", "", 404, "not_found", ""},
		// operations
		{"GET", "/api/v1/ops?window=-1m", "", "", 400, "bad_request", ""},
		{"GET", "/api/v1/ops?window=25h", "", "", 400, "bad_request", ""},
		// verify's bodies
		{"POST", "/api/v1/verify", "text/plain", `{"vote_id":"` + voteID + `"}`, 415, "unsupported_media_type", ""},
		{"POST", "/api/v1/verify", "", "", 415, "unsupported_media_type", ""},
		{"POST", "/api/v1/verify", "multipart/form-data; boundary=x", "--x--\r\n", 415, "unsupported_media_type", ""},
		{"POST", "/api/v1/verify", "Application/JSON; charset=utf-8", `{"vote_id":"` + voteID + `"}`, 200, `"verdict": "fail"`, ""}, // it carries no vote
		{"POST", "/api/v1/verify", js, "", 400, "bad_request", ""},
		{"POST", "/api/v1/verify", js, " \n", 400, "bad_request", ""},
		{"POST", "/api/v1/verify", js, `{"seq":-1}`, 400, "bad_request", ""},
		{"POST", "/api/v1/verify", js, `{"vote_id":"x","extra":1}`, 400, "bad_request", ""},
		{"POST", "/api/v1/verify", form, "receipt=", 400, "bad_request", ""},
		{"POST", "/api/v1/verify", form, "receipt=%zz", 400, "bad_request", ""},
		{"POST", "/api/v1/verify", form, "vote_id=zz", 400, "bad_request", ""},
		{"POST", "/verify", form, "receipt=+", 400, "nothing to verify", ""},
		{"POST", "/verify", "text/plain", "receipt=%7B%7D", 415, "post a receipt as application/json", ""},
		// no route: unknown paths, trailing slashes, other methods
		{"GET", "/api/v1/nothing", "", "", 404, "not_found", ""},
		{"GET", "/api/v1/blocks/1/", "", "", 404, "not_found", ""},
		{"GET", "/api/v1/blocks/", "", "", 404, "not_found", ""},
		{"HEAD", "/api/v1/nothing", "", "", 404, "not_found", ""},
		{"GET", "/nothing", "", "", 404, "nothing at /nothing", ""},
		{"GET", "/blocks/1/", "", "", 404, "nothing at /blocks/1/", ""},
		{"POST", "/api/v1/blocks", js, "{}", 405, "method_not_allowed", "GET, HEAD"},
		{"DELETE", "/api/v1/blocks/1", "", "", 405, "method_not_allowed", "GET, HEAD"},
		{"PUT", "/api/v1/verify", js, "{}", 405, "method_not_allowed", "GET, HEAD, POST"},
		{"OPTIONS", "/api/v1/openapi.yaml", "", "", 405, "method_not_allowed", "GET, HEAD"},
		{"POST", "/blocks", form, "", 405, "POST is not allowed on /blocks", "GET, HEAD"},
		{"PUT", "/verify", form, "", 405, "PUT is not allowed on /verify", "GET, HEAD, POST"},
		{"POST", "/healthz", "", "", 405, "POST is not allowed on /healthz", "GET, HEAD"},
		{"POST", "/readyz", "", "", 405, "POST is not allowed on /readyz", "GET, HEAD"},
	} {
		name := c.method + " " + c.path
		if len(name) > 120 {
			name = name[:120] + "…"
		}
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != c.status || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s: %d (Allow %q); want %d (Allow %q): %.300s", name, rec.Code, rec.Header().Get("Allow"), c.status, c.allow, body)
			continue
		}
		switch {
		case c.status == http.StatusOK:
			if !strings.Contains(body, c.want) {
				t.Errorf("%s: %.300s; want %s in it", name, body, c.want)
			}
		case strings.HasPrefix(c.path, "/api/v1/"):
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != c.want || e.Error.Message == "" {
				t.Errorf("%s: error %+v (%v); want code %s and a message: %.300s", name, e.Error, err, c.want, body)
			}
		case !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, `id="error"`) ||
			!strings.Contains(body, c.want) || !strings.HasSuffix(strings.TrimSpace(body), "</html>"):
			t.Errorf("%s: %s; want a whole HTML page saying %q: %.2000s", name, rec.Header().Get("Content-Type"), c.want, body)
		}
	}
}

// TestOpenAPIErrorCodes keeps the documented error codes in step with
// those the server answers.
func TestOpenAPIErrorCodes(t *testing.T) {
	documented := openAPISchemas(t)["Error"].Properties["error"].Properties["code"].Enum
	var given []string
	for status, code := range errorCodes {
		given = append(given, code)
		if !strings.Contains(string(openAPI), fmt.Sprintf("%s (%d)", code, status)) {
			t.Errorf("openapi.yaml's description does not list %s (%d)", code, status)
		}
	}
	if !sameSet(documented, given) {
		t.Fatalf("openapi.yaml documents the error codes %v; the server answers %v", documented, given)
	}
}
