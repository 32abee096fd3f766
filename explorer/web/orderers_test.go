package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestAuditShowsOrderers: the audit page and its JSON say whose signatures
// every block is checked for: nothing on an index without an orderer
// configuration, and on the captured blocks of a real BFT network the four
// consenters of both orderer organisations, three signatures needed, and
// the ballot chaincode's endorsement policy from its definition.
func TestAuditShowsOrderers(t *testing.T) {
	s := newServer(t)
	get := func() index.Orderers {
		t.Helper()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/audit", nil))
		var v struct {
			Orderers index.Orderers `json:"orderers"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("GET /api/v1/audit: %d %v", rec.Code, err)
		}
		return v.Orderers
	}
	if o := get(); o.Checked {
		t.Fatalf("an empty index's orderers %+v", o)
	}
	blocks, err := ledgertest.CapturedBlocks()
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for _, blk := range blocks {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), prev, b, s.cfg.Index)
		if err != nil || len(r.Issues) != 0 {
			t.Fatalf("captured block %d: %v %+v", b.Number, err, r.Issues)
		}
		if err := s.cfg.Index.Save(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		prev = b.Hash
	}
	o := get()
	if !o.Checked || o.Consensus != "BFT" || o.Needed != 3 || len(o.Consenters) != 4 || !slices.Equal(o.Orgs, []string{"CommissionOrdererMSP", "ObserversOrdererMSP"}) {
		t.Fatalf("orderers of the captured chain %+v", o)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/audit", nil))
	if page := rec.Body.String(); !strings.Contains(page, `<code id="policy-ballot">`+html.EscapeString(network.EndorsementPolicy)+`</code>`) {
		t.Errorf("the audit page does not give the ballot chaincode's endorsement policy %s: %.2000s", network.EndorsementPolicy, page[strings.Index(page, "<h2>Block signatures"):])
	}
	if page := rec.Body.String(); !strings.Contains(page, "valid signatures of 3 distinct orderers (BFT)") || !strings.Contains(page, "1 CommissionOrdererMSP") {
		t.Fatalf("the audit page does not say whose signatures are checked: %.2000s", page[strings.Index(page, "<h2>Block signatures"):])
	}
}
