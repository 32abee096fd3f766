package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/internal/electionsetup"
	"github.com/votechain/votechain/network"
)

// TestElectionTemplate: the shipped templates (one race, three questions),
// completed as ensureElection completes them, are valid records whose
// batchers name the batcher component's identity, so `make up`'s batches
// are not refused.
func TestElectionTemplate(t *testing.T) {
	for _, name := range []string{"election.json", "referendum.json"} {
		// Tests run in their package's folder; runtime.Caller would give a
		// module path under `go test -trimpath` (make test-unit).
		checkTemplate(t, filepath.Join("..", "..", "config", name))
	}
	bad := filepath.Join(t.TempDir(), "election.json")
	if err := os.WriteFile(bad, []byte(`{"id":"e","name":"E","states":["CA"],"contests":[{"id":"c","title":"C","kind":"race","choices":["a"]}],"batcher":["x"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Stack{cfg: Config{Election: bad}}
	if _, err := s.template(); err == nil || !strings.Contains(err.Error(), "batcher") {
		t.Fatalf("template with a misspelt batchers field: %v; want refused", err)
	}
}

func checkTemplate(t *testing.T, path string) {
	t.Helper()
	e, err := election.Template(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e.OpensAt, e.ClosesAt = now, now.Add(time.Hour)
	e.RollRoot, e.Status = strings.Repeat("0", 64), ballot.StatusConfigured
	if err := e.Validate(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := electionsetup.BatcherListed(&e, path, network.Batcher.CommonName()); err != nil {
		t.Fatal(err)
	}
	if err := electionsetup.BatcherListed(&e, path, network.Gateway.CommonName()); err == nil || !strings.Contains(err.Error(), `add it to "batchers"`) {
		t.Fatalf("the gateway's identity %q as the batcher: %v; want refused with the fix", network.Gateway.CommonName(), err)
	}
}
