package stack

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network"
)

// TestElectionTemplate: the shipped template, completed as ensureElection
// completes it, is a valid record whose batchers name the batcher
// component's identity, so `make up`'s batches are not refused.
func TestElectionTemplate(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "config", "election.json")
	s := &Stack{cfg: Config{Election: path}}
	e, err := s.readTemplate()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e.OpensAt, e.ClosesAt = now, now.Add(time.Hour)
	e.RollRoot, e.Status = strings.Repeat("0", 64), ballot.StatusConfigured
	if err := e.Validate(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := batcherListed(&e, path, network.Batcher.CommonName()); err != nil {
		t.Fatal(err)
	}
	if err := batcherListed(&e, path, network.Gateway.CommonName()); err == nil || !strings.Contains(err.Error(), `add it to "batchers"`) {
		t.Fatalf("the gateway's identity %q as the batcher: %v; want refused with the fix", network.Gateway.CommonName(), err)
	}

	bad := filepath.Join(t.TempDir(), "election.json")
	if err := os.WriteFile(bad, []byte(`{"id":"e","name":"E","states":["CA"],"candidates":["a"],"batcher":["x"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cfg.Election = bad
	if _, err := s.readTemplate(); err == nil || !strings.Contains(err.Error(), "batcher") {
		t.Fatalf("template with a misspelt batchers field: %v; want refused", err)
	}
}
