package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/results"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestReceiptsVerifyAndResultsFollowTheLedger: every receipt of 1,000
// committed votes passes the verify command and one altered byte fails it
// with the reason; results follow new commits (the lag is logged, and
// fails the test only past resultsLagCeiling); a gateway restart does not
// apply events twice: once a vote cast after it shows (the replay from the
// checkpoint done), the results equal the ledger's.
func TestReceiptsVerifyAndResultsFollowTheLedger(t *testing.T) {
	s := startSystem(t, 1, 1501)
	first := s.mustCast(t, s.roll[:1000], 16)
	s.waitQueuesDrained(t, 2*time.Minute)

	receipts := s.receipts(t, first)
	dir := nettest.RunDir(t, "receipts")
	genuine := writeJSONLines(t, filepath.Join(dir, "genuine.jsonl"), receipts)
	out, code := s.verify(t, genuine)
	if code != 0 || !strings.Contains(out, "1000 passed, 0 failed") {
		t.Fatalf("verify of 1000 genuine receipts: exit %d\n%s", code, out)
	}

	// One altered byte in the vote, the proof or the root fails with a reason.
	for _, c := range []struct {
		name   string
		tamper func(r *ballot.Receipt)
		reason string
	}{
		{"vote", func(r *ballot.Receipt) { v := *r.Vote; v.CastAt++; r.Vote = &v }, "is not the leaf"},
		{"proof", func(r *ballot.Receipt) { r.Proof[0] = flipHex(r.Proof[0]) }, "root"},
		{"root", func(r *ballot.Receipt) { r.Root = flipHex(r.Root) }, "root"},
	} {
		r := receipts[0]
		r.Proof = append([]string(nil), r.Proof...)
		c.tamper(&r)
		file := writeJSONLines(t, filepath.Join(dir, c.name+".jsonl"), []ballot.Receipt{r})
		out, code := s.verify(t, file)
		if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, c.reason) {
			t.Errorf("verify of a receipt with an altered %s byte: exit %d\n%s", c.name, code, out)
		}
	}

	// The voter's own look-up by credentials finds the same receipt.
	v := first[receipts[1].VoteID]
	var own ballot.Receipt
	if status, err := s.post(t.Context(), "/api/v1/votes/lookup", map[string]string{"voter_id": v.ID, "credential": v.Credential}, &own); status != 200 || err != nil || own.VoteID != receipts[1].VoteID {
		t.Fatalf("look-up by credentials: %d %v %+v", status, err, own)
	}

	// 500 more votes: the results reflect them (the lag is a speed, logged;
	// waitResults fails only past its generous ceiling).
	second := s.mustCast(t, s.roll[1000:1500], 16)
	committedAt := s.waitAllReceipts(t, second)
	shown := s.waitResults(t, 1500, resultsLagCeiling)
	t.Logf("results showed the last of 500 new votes %v after its receipt appeared", shown.Sub(committedAt).Round(time.Millisecond))

	// A gateway restart resumes from its checkpoint: it reports ready once
	// the checkpoint is loaded, before it replays the events since, so the
	// results are compared with the ledger only once a vote cast after the
	// restart shows (the replay is then done; applied twice, the counts
	// would exceed the ledger's).
	if err := s.st.Kill("gateway"); err != nil {
		t.Fatal(err)
	}
	if err := s.st.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.waitAllReceipts(t, s.mustCast(t, s.roll[1500:1501], 1))
	s.waitResults(t, 1501, resultsLagCeiling)
	var view results.View
	if status, err := s.get("/api/v1/results", &view); status != 200 || err != nil {
		t.Fatalf("results after restart: %d %v", status, err)
	}
	nettest.SyncPeers(t, s.st.Network())
	ledger, err := s.ledger.Results(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if view.Counted != 1501 || ledger.Counted != 1501 || !view.National.Equal(ledger.National) {
		t.Fatalf("after restart the gateway shows %d %v; the ledger %d %v", view.Counted, view.National, ledger.Counted, ledger.National)
	}
	for st, sr := range ledger.States {
		if !view.States[st].Tallies.Equal(sr.Tallies) || view.States[st].Batches != sr.Batches {
			t.Errorf("state %s after restart: gateway %+v, ledger %+v", st, view.States[st], sr)
		}
	}
}

// receipts fetches every accepted vote's receipt from the gateway.
func (s *system) receipts(t *testing.T, accepted map[string]vote) []ballot.Receipt {
	t.Helper()
	out := make([]ballot.Receipt, 0, len(accepted))
	for id := range accepted {
		var r ballot.Receipt
		if status, err := s.get("/api/v1/votes/"+id, &r); status != 200 || err != nil {
			t.Fatalf("receipt of %s: %d %v", id, status, err)
		}
		if r.Status != ballot.ReceiptCounted {
			t.Fatalf("receipt of %s is %s after the queues drained", id, r.Status)
		}
		out = append(out, r)
	}
	return out
}

// waitAllReceipts waits until every vote has a committed receipt and
// returns when the last one appeared (within the polling interval).
func (s *system) waitAllReceipts(t *testing.T, accepted map[string]vote) time.Time {
	t.Helper()
	left := make(map[string]bool, len(accepted))
	for id := range accepted {
		left[id] = true
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ids := slices.Collect(maps.Keys(left))
		receipted, err := votequeue.Receipted(context.Background(), s.rdb, ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if receipted[i] {
				delete(left, id)
			}
		}
		if len(left) == 0 {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d votes without receipts after 2 minutes", len(left))
	return time.Time{}
}

// resultsLagCeiling bounds how long after its commit a vote may take to
// show in the gateway's results before the test fails: far above the lag
// expected (a few hundred ms; the lag is logged, not asserted), so that a
// starved machine does not fail it, also after a gateway restart, whose
// replay from the checkpoint it includes.
const resultsLagCeiling = time.Minute

// waitResults polls /api/v1/results until it counts n votes and returns when.
func (s *system) waitResults(t *testing.T, n uint64, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var v results.View
		if status, err := s.get("/api/v1/results", &v); status == http.StatusOK && err == nil && v.Counted >= n {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("results did not reach %d votes within %v", n, within)
	return time.Time{}
}

// verify runs the verify command on a receipts file.
func (s *system) verify(t *testing.T, file string) (string, int) {
	t.Helper()
	return s.runVerify(t, "-q", file)
}

func writeJSONLines(t *testing.T, path string, rs []ballot.Receipt) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// flipHex changes the first hex digit of s.
func flipHex(s string) string {
	return fmt.Sprintf("%x", (s[0]-'0'+1)%10) + s[1:]
}
