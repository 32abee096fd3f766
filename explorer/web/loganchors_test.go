package web

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestAuditShowsLogAnchors: the audit page and its JSON show the intake
// log's registered keys and each state's anchored head beside the votes
// its batches hold (none here: all nine not in a batch yet).
func TestAuditShowsLogAnchors(t *testing.T) {
	s := newServer(t)
	e := ballot.Election{ID: "e", Name: "E", States: []string{"CA"}, Status: ballot.StatusConfigured,
		Contests: []ballot.Contest{{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice"}}},
		OpensAt:  time.Now().Add(-time.Hour).UTC(), ClosesAt: time.Now().Add(time.Hour).UTC(),
		RollRoot: ballot.HashHex(ballot.MerkleRoot(nil)), RollEntries: new(0), Batchers: []string{"User1@commission.votechain.test"}}
	var votes []ballot.Vote
	for i := range 9 {
		votes = append(votes, ballot.Vote{ID: strings.Repeat("0", 31) + string(rune('1'+i)), State: "CA", Contest: "president",
			Nullifier: ballot.HashHex([32]byte{byte(i)}), Choice: "alice", CastAt: time.Now().UnixMilli()})
	}
	signer := ledgertest.NewLogSigner('k', "e", "CA", votes)
	at := time.Now()
	indexChain(t, s, []ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{ledgertest.SetupElection("s", e), ledgertest.RegisterLogKeys("reg", at, ballot.LogKeys{}, signer.Key),
			ledgertest.AnchorLogHeads("a9", at, signer.Anchor(0, 9))})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/audit", nil))
	var v struct {
		Log index.LogAnchors `json:"intake_log"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("GET /api/v1/audit: %d %v", rec.Code, err)
	}
	if !v.Log.Checked || len(v.Log.Keys) != 1 || len(v.Log.Heads) != 1 || v.Log.Heads[0].Size != 9 || v.Log.Heads[0].Unaccounted != 9 || v.Log.Heads[0].Block != 1 {
		t.Fatalf("intake_log %+v", v.Log)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/audit", nil))
	page := rec.Body.String()
	if !strings.Contains(page, `id="log-anchors"`) || !strings.Contains(page, "one of the 1 registered log key and") || !strings.Contains(page, "<code>"+signer.Key.ID+"</code>") {
		t.Fatalf("the audit page does not show the anchored heads: %.3000s", page[strings.Index(page, "<h2>Intake log anchors"):])
	}
}

// indexChain audits the chain of blocks (each a list of transactions) and
// saves it into s's index, failing t on any issue.
func indexChain(t *testing.T, s *Server, blocks ...[]ledgertest.Tx) {
	t.Helper()
	var prev []byte
	for _, blk := range ledgertest.Chain(blocks...) {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		r, err := audit.Auditor{Chaincode: "ballot", SkipSignatures: true}.Block(t.Context(), prev, b, s.cfg.Index)
		if err != nil || len(r.Issues) != 0 {
			t.Fatalf("block %d: %v %+v", b.Number, err, r.Issues)
		}
		if err := s.cfg.Index.Save(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		prev = b.Hash
	}
}

// TestAuditShowsTrustAnchor: the audit page and its JSON give block 0's
// hash once indexed, and whether it is pinned to a published genesis
// block.
func TestAuditShowsTrustAnchor(t *testing.T) {
	s := newServer(t)
	get := func() (trustAnchor, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/audit", nil))
		var v struct {
			Anchor trustAnchor `json:"trust_anchor"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("GET /api/v1/audit: %d %v", rec.Code, err)
		}
		rec = httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/audit", nil))
		page := rec.Body.String()
		return v.Anchor, page[strings.Index(page, `id="audit-trust-anchor"`):strings.Index(page, "<h2>Block signatures")]
	}
	if a, page := get(); a.GenesisHash != "" || a.Pinned || !strings.Contains(page, "was given no published genesis block") {
		t.Fatalf("an empty index, no pin: %+v %s", a, page)
	}
	blk := ledgertest.Chain(nil)[0]
	b, err := fabricblock.Parse(blk)
	if err != nil {
		t.Fatal(err)
	}
	r, err := audit.Auditor{Chaincode: "ballot", SkipSignatures: true}.Block(t.Context(), nil, b, s.cfg.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cfg.Index.Save(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	s.cfg.Genesis = b.Hash
	hash := hex.EncodeToString(b.Hash)
	if a, page := get(); a.GenesisHash != hash || !a.Pinned || a.PinnedHash != hash || !strings.Contains(page, "pins it to the genesis block the consortium published, hash <code>"+hash) {
		t.Fatalf("block 0 indexed, pinned to it: %+v %s", a, page)
	}
}
