package httpapi

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// TestAccessLogNamesTheRouteNotThePath: a receipt's path names its vote
// id, whose choice is public; the access log, which carries the client's
// address, logs the route's pattern instead.
func TestAccessLogNamesTheRouteNotThePath(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, fixtureOpts{log: &logs})
	id, err := ballot.NewVoteID()
	if err != nil {
		t.Fatal(err)
	}
	f.do(http.MethodGet, ballot.ReceiptPath(id), "")
	f.do(http.MethodGet, "/no/such/"+id, "")
	logged := logs.String()
	if !strings.Contains(logged, "route="+ballot.ReceiptPathPrefix+":vote_id") || !strings.Contains(logged, "route=unmatched") {
		t.Errorf("the access log lacks the routes:\n%s", logged)
	}
	if strings.Contains(logged, id) {
		t.Errorf("the access log names the vote id %s:\n%s", id, logged)
	}
}

// TestOnlyXForwardedForNamesTheClient: a trusted proxy's X-Forwarded-For
// names the client (its rate limit's and the access log's); its
// X-Real-IP, which gin also believes by default, does not.
func TestOnlyXForwardedForNamesTheClient(t *testing.T) {
	var logs bytes.Buffer
	// httptest's requests come from 192.0.2.1.
	f := newFixture(t, fixtureOpts{log: &logs, cfg: Config{TrustedProxies: []string{"192.0.2.1"}}})
	for _, c := range []struct{ header, value, client string }{
		{"X-Real-IP", "203.0.113.9", "192.0.2.1"},
		{"X-Forwarded-For", "203.0.113.7", "203.0.113.7"},
	} {
		logs.Reset()
		f.do(http.MethodGet, "/api/v1/election", "", c.header, c.value)
		if !strings.Contains(logs.String(), "client="+c.client+" ") {
			t.Errorf("%s: %s from the trusted proxy: logged\n%s\nwant client=%s", c.header, c.value, logs.String(), c.client)
		}
	}
}
