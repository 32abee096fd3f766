package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestAuditSaysWhetherTheSealIsBound: the audit page shows a sealed roll
// and, when the election record states no roll size (an earlier
// chaincode's), says that the seal is bound to the root alone; a record
// stating the size raises no such note.
func TestAuditSaysWhetherTheSealIsBound(t *testing.T) {
	entries := []ballot.RollEntry{{State: "CA", Contest: "president", Nullifier: ballot.HashHex([32]byte{1})},
		{State: "CA", Contest: "president", Nullifier: ballot.HashHex([32]byte{2})}}
	_, loads, seal := ledgertest.Roll("load", entries)
	e := ballot.Election{ID: "e", Name: "E", States: []string{"CA"}, Status: ballot.StatusConfigured,
		Contests: []ballot.Contest{{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice"}}},
		OpensAt:  time.Now().Add(-time.Hour).UTC(), ClosesAt: time.Now().Add(time.Hour).UTC(), Batchers: []string{"User1@commission.votechain.test"}}
	e.SetRoll(entries)
	unsized := e
	unsized.RollEntries = nil
	for _, c := range []struct {
		e       ballot.Election
		unbound bool
	}{{e, false}, {unsized, true}} {
		s := newServer(t)
		indexChain(t, s, []ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{ledgertest.SetupElection("s", c.e), loads[0], seal})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/audit", nil))
		page := rec.Body.String()
		if !strings.Contains(page, "The roll (2 entries") || strings.Contains(page, `id="roll-size-unbound"`) != c.unbound {
			t.Errorf("roll_entries %v: the audit page's roll: %.600s; want the sealed roll, noted unbound: %v", c.e.RollEntries, page[strings.Index(page, "<h2>Rejected votes"):], c.unbound)
		}
	}
}
