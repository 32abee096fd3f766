package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// auditView is the part of the explorer's /api/v1/audit answer checked here.
type auditView struct {
	Totals struct {
		Blocks  uint64 `json:"blocks"`
		Batches int64  `json:"batches"`
		Votes   int64  `json:"votes"`
		Issues  int64  `json:"issues"`
	} `json:"totals"`
	LedgerHeight uint64         `json:"ledger_height"`
	InSync       bool           `json:"in_sync"`
	BrokenBlocks int64          `json:"broken_blocks"`
	Recount      ballot.Results `json:"recount"`
	Match        bool           `json:"match"`
	IntakeLog    struct {
		Checked bool `json:"checked"`
		Heads   []struct {
			State       string `json:"state"`
			Size        uint64 `json:"size"`
			Batched     uint64 `json:"batched"`
			Unaccounted uint64 `json:"unaccounted"`
		} `json:"heads"`
	} `json:"intake_log"`
}

func (s *system) audit(t *testing.T) auditView {
	t.Helper()
	resp, err := s.http.Get(s.st.ExplorerURL() + "/api/v1/audit")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v auditView
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("explorer audit: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitIndexed waits until the explorer has indexed every block of the ledger.
func (s *system) waitIndexed(t *testing.T) auditView {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		v := s.audit(t)
		if v.InSync {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("explorer indexed %d of %d blocks after a minute", v.Totals.Blocks, v.LedgerHeight)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkExplorerRecount asserts, once the accepted votes are committed, that
// the explorer's recount from ledger data equals the chaincode's results
// and counts exactly the accepted votes, its batch count equals the
// ledger's, and a restart of the explorer resumes without duplicates.
func (s *system) checkExplorerRecount(t *testing.T, accepted map[string]vote) {
	t.Helper()
	v := s.waitIndexed(t)

	ledger, err := s.ledger.Results(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ledgerBatches int64
	for _, st := range ledger.States {
		ledgerBatches += int64(st.Batches)
	}
	switch {
	case v.Recount.Counted != ledger.Counted || ledger.Counted != uint64(len(accepted)):
		t.Fatalf("recount %d votes, chaincode %d, accepted %d", v.Recount.Counted, ledger.Counted, len(accepted))
	case !v.Recount.National.Equal(ledger.National):
		t.Fatalf("recount %v, chaincode %v", v.Recount.National, ledger.National)
	case v.Totals.Batches != ledgerBatches:
		t.Fatalf("explorer indexed %d batches, the ledger holds %d", v.Totals.Batches, ledgerBatches)
	case v.Totals.Issues != 0 || v.BrokenBlocks != 0 || !v.Match:
		t.Fatalf("audit flags: %d issues, %d broken blocks, match %v", v.Totals.Issues, v.BrokenBlocks, v.Match)
	}
	for st, sr := range ledger.States {
		if got := v.Recount.States[st]; !got.Tallies.Equal(sr.Tallies) || got.Batches != sr.Batches {
			t.Errorf("state %s: recount %+v, chaincode %+v", st, got, sr)
		}
	}
	t.Logf("explorer recount matches: %d votes in %d batches over %d blocks", v.Recount.Counted, v.Totals.Batches, v.Totals.Blocks)

	// A restart resumes from the checkpoint: same totals, nothing twice (Up's
	// readiness probe adds a block without votes).
	if err := s.st.Kill("explorer"); err != nil {
		t.Fatal(err)
	}
	if err := s.st.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := s.waitIndexed(t)
	if after.Totals.Batches != v.Totals.Batches || after.Totals.Votes != v.Totals.Votes || after.Totals.Issues != 0 ||
		after.Totals.Blocks < v.Totals.Blocks || after.Recount.Counted != v.Recount.Counted {
		t.Fatalf("after restart the explorer shows %+v (%d votes), before %+v (%d votes)", after.Totals, after.Recount.Counted, v.Totals, v.Recount.Counted)
	}
}
