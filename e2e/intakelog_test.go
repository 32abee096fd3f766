package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestOmittedVotesAreFound: with the batcher stopped, voters cast votes and
// fetch their signed acceptance receipts; a rogue operator then deletes some
// of the accepted votes from the queue (the stream entries and their pending
// records) before they are committed. Once the batcher has drained the rest
// and the heads are anchored, the log monitor (verify --log) flags exactly
// the deleted votes MISSING, verify --acceptance reports their receipts
// MISSING and every other receipt COUNTED, the explorer's intake log page
// lists exactly the deleted votes MISSING, and finalise is refused.
func TestOmittedVotesAreFound(t *testing.T) {
	// The explorer's intake log page checks every second, with the 1 s
	// deadline of the checks below (the stack passes it --gateway).
	t.Setenv("EXPLORER_LOG_REFRESH", "1s")
	t.Setenv("EXPLORER_LOG_DEADLINE", "1s")
	s := startSystem(t, 1, 300)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.st.Kill("batcher0"); err != nil {
		t.Fatal(err)
	}
	// Every vote is cast before any receipt is fetched, so the fetches wait
	// for one signed head (--log-interval) rather than one each.
	var acceptanceURLs []string
	for i, v := range s.roll[:30] {
		var out struct {
			VoteID        string `json:"vote_id"`
			LogIndex      *int64 `json:"log_index"`
			AcceptanceURL string `json:"acceptance_url"`
		}
		body := s.body(s.voteOf(v, i))
		if status, err := s.post(t.Context(), "/api/v1/vote", body, &out); err != nil || status != http.StatusAccepted || out.LogIndex == nil || out.AcceptanceURL == "" {
			t.Fatalf("vote %d: %d %+v, %v; want 202 with a log index and an acceptance URL", i, status, out, err)
		}
		acceptanceURLs = append(acceptanceURLs, out.AcceptanceURL)
	}
	var receipts []ballot.Acceptance
	for _, url := range acceptanceURLs {
		receipts = append(receipts, s.acceptance(t, url))
	}

	// The rogue operator deletes every third accepted vote from the queue.
	deleted := map[string]bool{}
	for i := 0; i < len(receipts); i += 3 {
		deleted[receipts[i].VoteID] = true
	}
	s.dropQueued(t, deleted)

	if err := s.st.Up(ctx); err != nil { // the batcher again
		t.Fatal(err)
	}
	s.waitQueuesDrained(t, 2*time.Minute)
	s.waitAnchored(t, time.Minute)
	time.Sleep(time.Second) // every vote is now past the 1 s deadline of the checks below

	out, code := s.runVerify(t, "--log", "--gateway", s.st.GatewayURL(), "--deadline", "1s")
	if code != 1 {
		t.Fatalf("verify --log exited %d; want 1 (MISSING votes):\n%s", code, out)
	}
	if got := idsAfter(out, `(?m)^  MISSING ([0-9a-f]{32}):`); !slices.Equal(got, sortedKeys(deleted)) {
		t.Fatalf("verify --log flagged MISSING %v; want exactly the deleted %v:\n%s", got, sortedKeys(deleted), out)
	}
	if strings.Contains(out, "  pending ") || strings.Contains(out, "  rejected ") {
		t.Fatalf("verify --log reports votes neither counted nor deleted:\n%s", out)
	}
	if strings.Contains(out, "UNLOGGED") { // every vote on the ledger came through the gateway
		t.Fatalf("verify --log reports votes on the ledger that the log does not hold:\n%s", out)
	}
	t.Logf("verify --log:\n%s", out)
	s.checkIntakeLogPage(t, deleted, len(receipts)-len(deleted))

	file := filepath.Join(t.TempDir(), "acceptances.json")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range receipts {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = s.runVerify(t, "--acceptance", "--deadline", "1s", file)
	counted := idsAfter(out, `(?m)^COUNTED ([0-9a-f]{32}):`)
	if code != 1 || !slices.Equal(idsAfter(out, `(?m)^MISSING ([0-9a-f]{32}):`), sortedKeys(deleted)) || len(counted) != len(receipts)-len(deleted) {
		t.Fatalf("verify --acceptance exited %d; want the deleted votes' receipts MISSING and the %d others COUNTED:\n%s", code, len(receipts)-len(deleted), out)
	}
	for _, id := range counted {
		if deleted[id] {
			t.Fatalf("deleted vote %s verified counted", id)
		}
	}

	if _, err := s.st.CloseElection(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		_, _, err := s.st.FinaliseElection(ctx, stack.FinaliseOptions{AcceptUnlogged: true}) // refused for the MISSING votes all the same
		if err == nil {
			t.Fatal("finalise succeeded with votes accepted under anchored heads missing from the ledger")
		}
		if strings.Contains(err.Error(), "MISSING") {
			t.Logf("finalise refused: %v", err)
			break
		}
		if time.Now().After(deadline) { // still within the close's settle time, or a head to anchor
			t.Fatalf("finalise: %v; want a refusal naming the MISSING votes", err)
		}
	}
	// An admin who calls the chaincode directly, past votechain's check
	// (with the ledger's own batch totals, as though a check had judged
	// them), is refused too: the states' batches hold fewer votes than
	// their anchored heads say were accepted.
	admin := nettest.Dial(t, s.st.Network(), "Commission", fabricclient.WithUser("Admin")).Ballot()
	res, err := admin.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	judged := ballot.FinaliseInput{Batched: map[string]ballot.BatchTotals{}}
	for st, sr := range res.States {
		judged.Batched[st] = sr.Totals()
	}
	if _, err := admin.FinaliseElection(ctx, judged); err == nil || !strings.Contains(err.Error(), "accepted votes are not on the ledger") {
		t.Fatalf("FinaliseElection on the chaincode: %v; want refused for the votes missing under the anchored heads", err)
	}
}

// checkIntakeLogPage waits for the explorer's next intake log check and
// asserts that its JSON lists exactly the deleted votes MISSING, each under
// a signed head that covers it, and counts the others counted, and that
// its page names each of them MISSING in words.
func (s *system) checkIntakeLogPage(t *testing.T, deleted map[string]bool, counted int) {
	t.Helper()
	after := time.Now()
	var v struct {
		CheckedAt time.Time `json:"checked_at"`
		Failure   string    `json:"failure"`
		Error     string    `json:"error"`
		Missing   int       `json:"missing"`
		Unlogged  int       `json:"unlogged"`
		States    []struct {
			Head *struct {
				Head ballot.TreeHead `json:"head"`
			} `json:"head"`
			SignatureVerified bool `json:"signature_verified"`
			ProofVerified     bool `json:"consistency_proof_verified"`
			Counted, Pending  int
			Entries           []struct {
				Index    uint64      `json:"index"`
				Vote     ballot.Vote `json:"vote"`
				Standing string      `json:"standing"`
			} `json:"entries"`
		} `json:"states"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		resp, err := s.http.Get(s.st.ExplorerURL() + "/api/v1/intake-log")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
		}
		if err == nil && v.CheckedAt.After(after) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the explorer's intake log was not checked after %s: %+v, %v", after, v, err)
		}
	}
	var missing []string
	total, proofs := 0, 0
	for _, st := range v.States {
		total += st.Counted
		if st.ProofVerified {
			proofs++
		}
		for _, e := range st.Entries {
			if e.Standing == ballot.StandingMissing && st.SignatureVerified && st.Head != nil && e.Index < st.Head.Head.Size {
				missing = append(missing, e.Vote.ID)
			}
		}
	}
	slices.Sort(missing)
	if v.Failure != "" || v.Error != "" || v.Missing != len(deleted) || total != counted || !slices.Equal(missing, sortedKeys(deleted)) || v.Unlogged != 0 {
		t.Fatalf("the explorer's intake log: %+v; want exactly the deleted %v MISSING under verified heads, %d counted, none not in the log", v, sortedKeys(deleted), counted)
	}
	t.Logf("explorer intake log: %d MISSING, %d counted, consistency proofs to the latest head verified in %d of %d states", v.Missing, total, proofs, len(v.States))
	resp, err := s.http.Get(s.st.ExplorerURL() + "/intake-log")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if got := strings.Count(string(page), `<strong class="bad">MISSING</strong>`); got != len(deleted) {
		t.Errorf("the intake log page names %d entries MISSING, want %d", got, len(deleted))
	}
	for id := range deleted {
		if !strings.Contains(string(page), id) {
			t.Errorf("the intake log page does not list the deleted vote %s", id)
		}
	}
}

// acceptance fetches an acceptance receipt, retrying while no signed head
// covers the vote (503 head_pending on a loaded machine).
func (s *system) acceptance(t *testing.T, url string) ballot.Acceptance {
	t.Helper()
	var a ballot.Acceptance
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		status, err := s.get(url, &a)
		if err == nil && status == http.StatusOK {
			return a
		}
		if time.Now().After(deadline) || (status != http.StatusServiceUnavailable && status != 0) {
			t.Fatalf("GET %s: %d, %v", url, status, err)
		}
	}
}

// dropQueued deletes the votes of ids from every state's stream, as an
// operator with Redis's admin password could.
func (s *system) dropQueued(t *testing.T, ids map[string]bool) {
	t.Helper()
	ctx := context.Background()
	dropped := 0
	for _, st := range s.states {
		msgs, err := s.rdb.XRange(ctx, votequeue.StreamKey(st), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			v, err := votequeue.Decode(m.Values)
			if err != nil {
				t.Fatal(err)
			}
			if !ids[v.ID] {
				continue
			}
			if err := s.rdb.XDel(ctx, votequeue.StreamKey(st), m.ID).Err(); err != nil {
				t.Fatal(err)
			}
			dropped++
		}
	}
	if dropped != len(ids) {
		t.Fatalf("dropped %d queued votes; want %d (were they committed already?)", dropped, len(ids))
	}
}

// waitAnchored waits until every state's anchored head covers its whole log.
func (s *system) waitAnchored(t *testing.T, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(within); ; time.Sleep(250 * time.Millisecond) {
		behind := ""
		for _, st := range s.states {
			n, err := votequeue.LogLen(ctx, s.rdb, st)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				continue
			}
			h, err := s.ledger.LogHead(ctx, st)
			if err != nil || h.Head.Size < n {
				behind = st
				break
			}
		}
		if behind == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s log's head is not anchored after %s", behind, within)
		}
	}
}

// runVerify runs the verify command against the Observers' peer.
func (s *system) runVerify(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "verify"), append([]string{"--profile", s.st.Network().Layout().Profile()}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return out.String(), exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// idsAfter returns the sorted first groups of pattern's matches.
func idsAfter(out, pattern string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	slices.Sort(ids)
	return ids
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
