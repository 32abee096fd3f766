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
	f.do(http.MethodGet, "/api/v1/votes/"+id, "")
	f.do(http.MethodGet, "/no/such/"+id, "")
	logged := logs.String()
	if !strings.Contains(logged, "route=/api/v1/votes/:vote_id") || !strings.Contains(logged, "route=unmatched") {
		t.Errorf("the access log lacks the routes:\n%s", logged)
	}
	if strings.Contains(logged, id) {
		t.Errorf("the access log names the vote id %s:\n%s", id, logged)
	}
}
