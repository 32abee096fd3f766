package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestCloseAndFinalise closes the election early while votes accepted with
// the batcher stopped are still in Redis: once the close is on every peer
// the gateway may read through, the gateway serves the closed record within
// its record bound (--election-max-age, 5 s), and a vote gets 403
// election_closed;
// finalise refuses and names the votes still to commit; after the batcher
// is back and has drained the queue, finalise succeeds and every accepted
// vote is counted once.
func TestCloseAndFinalise(t *testing.T) {
	s := startSystem(t, 1, 400)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	accepted := s.mustCast(t, s.roll[:200], 8)
	s.waitQueuesDrained(t, 2*time.Minute)
	if err := s.st.Kill("batcher0"); err != nil {
		t.Fatal(err)
	}
	waiting := s.mustCast(t, s.roll[200:250], 8)
	for id, v := range waiting {
		accepted[id] = v
	}

	e, err := s.st.CloseElection(ctx)
	if err != nil || e.Status != ballot.StatusClosed {
		t.Fatalf("close: %+v, %v", e, err)
	}
	// CloseElection waits for the close on the Commission's peer, which
	// the gateway reads through; Fabric's gateway service may evaluate on
	// the Observers' peer too, so the bound runs from the close being on
	// every peer.
	nettest.SyncPeers(t, s.st.Network())
	s.waitElectionClosed(t, time.Now())
	late := s.roll[300]
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	// A 503 election_unavailable (the ledger read failed on a loaded machine)
	// refuses too; the vote is retried until the gateway answers from the
	// closed record. Any 202 fails the test.
	var status int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		status, err = s.post(t.Context(), "/api/v1/vote", s.body(s.voteOf(late, 0)), &out)
		if err != nil || status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || status != http.StatusForbidden || out.Error.Code != "election_closed" {
		t.Fatalf("a vote once the gateway serves the closed record: %d %q, %v; want 403 election_closed", status, out.Error.Code, err)
	}

	// Finalise refuses a close younger than stack.CloseSettle by the
	// record's ClosedAt: that instant, not a state, is what it waits for.
	time.Sleep(time.Until(e.ClosedAt.Add(stack.CloseSettle)))
	_, _, err = s.st.FinaliseElection(ctx, stack.FinaliseOptions{})
	var nd *stack.NotDrainedError
	if !errors.As(err, &nd) || nd.Remaining() != int64(len(waiting)) {
		t.Fatalf("finalise with the batcher stopped: %v; want refused with %d votes remaining", err, len(waiting))
	}
	t.Logf("refused: %v", err)

	if err := s.st.Up(ctx); err != nil { // starts the batcher again
		t.Fatal(err)
	}
	s.waitQueuesDrained(t, 2*time.Minute)
	e, _, err = s.st.FinaliseElection(ctx, stack.FinaliseOptions{}) // refused if the ledger counted a vote no intake log holds
	if err != nil || e.Status != ballot.StatusFinalised {
		t.Fatalf("finalise once drained: %+v, %v", e, err)
	}
	nettest.SyncPeers(t, s.st.Network())
	s.checkExactlyOnce(t, accepted)

	// The explorer rechecked every anchor and the finalisation against the
	// anchored heads: nothing flagged, and each state's head is in its
	// batches whole.
	v := s.waitIndexed(t)
	if v.Totals.Issues != 0 || !v.IntakeLog.Checked || len(v.IntakeLog.Heads) == 0 {
		t.Fatalf("explorer after the finalisation: %d issues, intake log %+v", v.Totals.Issues, v.IntakeLog)
	}
	var anchored uint64
	for _, h := range v.IntakeLog.Heads {
		if h.Unaccounted != 0 || h.Batched < h.Size {
			t.Errorf("state %s: anchored head of %d votes, %d in batches, %d unaccounted", h.State, h.Size, h.Batched, h.Unaccounted)
		}
		anchored += h.Size
	}
	t.Logf("explorer: %d anchored votes over %d states, all in batches, no issue", anchored, len(v.IntakeLog.Heads))
}

// waitElectionClosed waits until the gateway's GET /api/v1/election serves
// the closed record, the close having been on every peer since onPeers. A
// record the gateway serves is never older than --election-max-age
// (stack.CloseSettle), so from onPeers plus that bound an open record fails
// t; a 503 election_unavailable (a ledger read failed on a loaded machine)
// is retried for 15 s more.
func (s *system) waitElectionClosed(t *testing.T, onPeers time.Time) {
	t.Helper()
	bound := onPeers.Add(stack.CloseSettle)
	for deadline := bound.Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		sent := time.Now()
		var e ballot.Election
		status, err := s.get("/api/v1/election", &e)
		switch {
		case err != nil:
			t.Fatalf("GET /api/v1/election after the close: %v", err)
		case status == http.StatusOK && e.Status == ballot.StatusClosed:
			t.Logf("the gateway served the closed record %s after the close was on every peer", sent.Sub(onPeers).Round(time.Millisecond))
			return
		case status == http.StatusOK && sent.After(bound):
			t.Fatalf("the gateway serves the election %s %s after the close was on every peer; its record bound is %s", e.Status, sent.Sub(onPeers).Round(time.Millisecond), stack.CloseSettle)
		case status != http.StatusOK && status != http.StatusServiceUnavailable:
			t.Fatalf("GET /api/v1/election after the close: status %d", status)
		case time.Now().After(deadline):
			t.Fatalf("GET /api/v1/election still answers %d %s after the close was on every peer", status, time.Since(onPeers).Round(time.Second))
		}
	}
}
