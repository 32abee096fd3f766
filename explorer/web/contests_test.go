package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/explorer/proof"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// referendum is an index of generated blocks of a referendum: the three
// questions of config/referendum.json in three states, each voter voting on
// the first one to three of them, and one voter voting twice on the first question
// (rejected). Want is what the test expects the recount to be (counted,
// rejected, tallies), tallied here from the votes it made; Results is the chaincode's own results, summed
// from the batch records its blocks wrote.
type referendum struct {
	Index    *index.Index
	Election ballot.Election
	Batches  []ballot.Batch
	Want     ballot.Results
	Results  ballot.Results
}

// newReferendum builds and indexes the referendum's blocks: the election's
// set-up, then one block per batch, each committing the record that
// ballot's counting rule gives over the blocks before it.
func newReferendum(t *testing.T) *referendum {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "config", "referendum.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e ballot.Election
	if err := json.Unmarshal(tmpl, &e); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	e.States, e.OpensAt, e.ClosesAt = e.States[:3], now.Add(-time.Hour), now.Add(time.Hour)
	e.RollRoot, e.RollEntries, e.Status = ballot.HashHex(ballot.MerkleRoot(nil)), new(0), ballot.StatusConfigured
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	r := &referendum{Index: idx, Election: e,
		Want:    ballot.Results{National: ballot.Tally{}, States: map[string]ballot.StateResult{}},
		Results: ballot.Results{National: ballot.Tally{}, States: map[string]ballot.StateResult{}}}

	votes := map[string][]ballot.Vote{}
	ids := 0
	vote := func(voter int, contest, choice string) ballot.Vote {
		ids++
		key := ballot.VoterKey([]byte("web-test"), e.ID, fmt.Sprint("voter-", voter), "cred")
		return ballot.Vote{ID: fmt.Sprintf("%032x", ids), State: e.States[voter/3%3], Contest: contest,
			Nullifier: ballot.HashHex(ballot.NullifierOf(key, contest)), Choice: choice, CastAt: now.Add(-time.Minute).UnixMilli()}
	}
	for voter := range 30 {
		for q, c := range e.Contests[:1+voter%3] {
			choice := c.Choices[0] // question q: the second choice from q+1 voters of 5
			if voter%5 <= q {
				choice = c.Choices[1]
			}
			v := vote(voter, c.ID, choice)
			votes[v.State] = append(votes[v.State], v)
			r.Want.National.Add(c.ID, choice, 1)
			st := r.Want.States[v.State]
			if st.Tallies == nil {
				st = ballot.StateResult{State: v.State, Tallies: ballot.Tally{}}
			}
			st.Tallies.Add(c.ID, choice, 1)
			st.Counted++
			r.Want.States[v.State] = st
			r.Want.Counted++
		}
	}
	again := vote(0, e.Contests[0].ID, e.Contests[0].Choices[1])

	setup, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	add := func(tx ledgertest.Tx) {
		blk := ledgertest.Block(r.blocks(t), prev, tx)
		prev = fabricblock.HeaderHash(blk.Header)
		r.index(t, blk)
	}
	add(ledgertest.Tx{ID: "genesis", Config: true})
	add(ledgertest.Tx{ID: "setup", Function: "SetupElection", Args: [][]byte{setup},
		Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: setup}}})
	for _, state := range e.States {
		vs := votes[state]
		half := len(vs) / 2
		add(r.commit(t, state, 1, vs[:half]))
		add(r.commit(t, state, 2, vs[half:]))
	}
	add(r.commit(t, again.State, 3, []ballot.Vote{again}))
	r.Want.Rejected = 1
	return r
}

// blocks returns how many blocks the index holds: the next block's number.
func (r *referendum) blocks(t *testing.T) uint64 {
	next, _, err := r.Index.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// index audits and saves one block as the explorer's follower does.
func (r *referendum) index(t *testing.T, blk *common.Block) {
	t.Helper()
	if issues := r.indexAudited(t, blk); len(issues) > 0 {
		t.Fatalf("block %d of an honest ledger flagged: %+v", blk.GetHeader().GetNumber(), issues)
	}
}

// indexAudited audits blk and saves it to the index, whatever the audit
// finds, and returns the issues it found.
func (r *referendum) indexAudited(t *testing.T, blk *common.Block) []audit.Issue {
	t.Helper()
	b, err := fabricblock.Parse(blk)
	if err != nil {
		t.Fatal(err)
	}
	_, prev, err := r.Index.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Auditor{Chaincode: "ballot", SkipSignatures: true}.Block(t.Context(), prev, b, r.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Index.Save(context.Background(), rep); err != nil {
		t.Fatal(err)
	}
	return rep.Issues
}

// commit is the CommitBatch transaction of votes as batch (state, seq),
// with the writes the counting rule gives over the indexed blocks; it adds
// the record to the chaincode's results.
func (r *referendum) commit(t *testing.T, state string, seq uint64, votes []ballot.Vote) ledgertest.Tx {
	t.Helper()
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		t.Fatal(err)
	}
	r.Batches = append(r.Batches, b)
	used := func(v ballot.Vote) (bool, error) { return r.Index.NullifierUsed(t.Context(), v.State, v.Nullifier) }
	rec, err := b.Count(&r.Election, time.Now(), nil, used, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec.TxID = fmt.Sprintf("commit-%s-%d", state, seq)
	r.Results.Apply(rec.Event())
	rejects := make(map[int]string, len(rec.Rejected))
	for k, i := range rec.Rejected {
		rejects[i] = rec.Reasons[k]
	}
	return ledgertest.CommitBatch(rec.TxID, b, rejects) // the record, and the counted votes' nullifier records
}

// server serves the referendum's index with ledger as the peer.
func (r *referendum) server(t *testing.T, ledger Ledger) *Server {
	t.Helper()
	s, err := New(Config{Index: r.Index, Ledger: ledger, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// getJSON GETs path from s and decodes its JSON into v.
func getJSON(t *testing.T, s *Server, path string, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %.300s", path, rec.Code, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// getHTML GETs the page at path from s.
func getHTML(t *testing.T, s *Server, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %.300s", path, rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// TestDashboardPerContest: the dashboard shows every contest of the
// election in ballot order with its title, kind and choices, and its votes
// nationally and per state as the test cast them.
func TestDashboardPerContest(t *testing.T) {
	r := newReferendum(t)
	s := r.server(t, fakeLedger{r.Results})
	var v struct {
		Recount  ballot.Results   `json:"recount"`
		Contests []contestResults `json:"contests"`
	}
	getJSON(t, s, "/api/v1/dashboard", &v)
	if v.Recount.Counted != r.Want.Counted || v.Recount.Rejected != 1 || !v.Recount.National.Equal(r.Want.National) {
		t.Errorf("recount %d counted, %d rejected, %v; want %d, 1, %v", v.Recount.Counted, v.Recount.Rejected,
			v.Recount.National, r.Want.Counted, r.Want.National)
	}
	if len(v.Contests) != len(r.Election.Contests) {
		t.Fatalf("dashboard shows %d contests, the election has %d", len(v.Contests), len(r.Election.Contests))
	}
	html := getHTML(t, s, "/")
	for i, c := range v.Contests {
		want := r.Election.Contests[i]
		if c.ID != want.ID || c.Title != want.Title || c.Kind != want.Kind || !slices.Equal(c.Choices, want.Choices) || !c.Recorded {
			t.Errorf("contest %d: %+v, want %+v", i, c.Contest, want)
		}
		if !sameCounts(c.National, r.Want.National[want.ID]) || c.Counted != r.Want.National[want.ID].Total() {
			t.Errorf("contest %s national %v (%d), want %v", want.ID, c.National, c.Counted, r.Want.National[want.ID])
		}
		if len(c.States) != 3 {
			t.Errorf("contest %s: %d states, want 3", want.ID, len(c.States))
		}
		for _, st := range c.States {
			if w := r.Want.States[st.State].Tallies[want.ID]; !sameCounts(st.Votes, w) || st.Counted != w.Total() {
				t.Errorf("contest %s state %s: %v (%d), want %v", want.ID, st.State, st.Votes, st.Counted, w)
			}
		}
		for _, s := range []string{`id="contest-` + want.ID + `"`, ">" + want.Title + " ", `id="results-` + want.ID + `"`, `id="states-` + want.ID + `"`} {
			if !strings.Contains(html, s) {
				t.Errorf("dashboard page lacks %q", s)
			}
		}
	}
	// The later questions had fewer voters: the first question's first
	// choice was voted by every third voter at least.
	if v.Contests[0].Counted <= v.Contests[2].Counted || v.Contests[2].Counted == 0 {
		t.Errorf("questions counted %d, %d, %d: want the first above the last, the last above 0",
			v.Contests[0].Counted, v.Contests[1].Counted, v.Contests[2].Counted)
	}
}

// sameCounts reports whether two counts hold the same non-zero entries.
func sameCounts(a, b ballot.Counts) bool { return ballot.Tally{"x": a}.Equal(ballot.Tally{"x": b}) }

// TestBatchVotesShowContest: a batch's votes list their contest and choice.
func TestBatchVotesShowContest(t *testing.T) {
	r := newReferendum(t)
	s := r.server(t, fakeLedger{r.Results})
	b := r.Batches[0]
	path := fmt.Sprintf("/batches/%s/%d", b.State, b.Seq)
	var v struct {
		Votes []index.Vote `json:"votes"`
		Batch index.Batch  `json:"batch"`
	}
	getJSON(t, s, "/api/v1"+path+"?page=1", &v)
	if len(v.Votes) == 0 || !v.Batch.Tallies.Equal(ballot.TallyOf(b.Votes)) {
		t.Fatalf("batch %s: %d votes, tallies %v; want %v", b.ID(), len(v.Votes), v.Batch.Tallies, ballot.TallyOf(b.Votes))
	}
	html := getHTML(t, s, path)
	for _, iv := range v.Votes {
		want := b.Votes[iv.Index]
		if iv.Contest != want.Contest || iv.Choice != want.Choice {
			t.Errorf("vote %d: contest %q choice %q, want %q %q", iv.Index, iv.Contest, iv.Choice, want.Contest, want.Choice)
		}
		if row := "<td><code>" + want.Contest + "</code></td><td>" + want.Choice + "</td>"; !strings.Contains(html, row) {
			t.Errorf("batch page lacks the row cells %q", row)
		}
	}
}

// TestAuditPerContest: the audit lines up the recount and the chaincode's
// results for every contest and choice, nationally and per state; a count
// the chaincode states differently is the one row that fails.
func TestAuditPerContest(t *testing.T) {
	r := newReferendum(t)
	type row struct{ State, Contest, Choice string }
	audit := func(res ballot.Results) (bool, map[row]bool) {
		var v auditView
		getJSON(t, r.server(t, fakeLedger{res}), "/api/v1/audit", &v)
		rows := map[row]bool{}
		for _, rw := range v.Rows {
			rows[row{rw.State, rw.Contest, rw.Choice}] = rw.OK
		}
		return v.Match, rows
	}
	match, rows := audit(r.Results)
	if !match {
		t.Fatalf("honest chaincode results do not match the recount: %v", rows)
	}
	for _, c := range r.Election.Contests {
		for _, choice := range c.Choices {
			for _, st := range append([]string{""}, r.Election.States...) {
				if r.Want.National[c.ID][choice] == 0 || st != "" && r.Want.States[st].Tallies[c.ID][choice] == 0 {
					continue
				}
				if ok, found := rows[row{st, c.ID, choice}]; !found || !ok {
					t.Errorf("audit row %s/%s/%s: found %v, ok %v", st, c.ID, choice, found, ok)
				}
			}
		}
	}

	c := r.Election.Contests[1]
	forged := r.Results
	forged.National = ballot.Tally{}
	forged.National.Merge(r.Results.National)
	forged.National.Add(c.ID, c.Choices[1], 1)
	match, rows = audit(forged)
	var bad []row
	for rw, ok := range rows {
		if !ok {
			bad = append(bad, rw)
		}
	}
	if match || !slices.Equal(bad, []row{{"", c.ID, c.Choices[1]}}) {
		t.Errorf("one forged national count: match %v, failing rows %v", match, bad)
	}
	html := getHTML(t, r.server(t, fakeLedger{forged}), "/audit")
	if !strings.Contains(html, "<td><code>"+c.ID+"</code></td><td>"+c.Choices[1]+"</td>") || !strings.Contains(html, "MISMATCH") {
		t.Errorf("audit page does not show the forged row of %s/%s", c.ID, c.Choices[1])
	}
}

// TestVerifyShowsContest: the verification of a vote names its contest.
func TestVerifyShowsContest(t *testing.T) {
	r := newReferendum(t)
	s := r.server(t, fakeLedger{r.Results})
	vote := r.Batches[len(r.Batches)-2].Votes[0]
	var v verifyView
	getJSON(t, s, "/api/v1/verify?vote_id="+vote.ID, &v)
	c, _ := r.Election.Contest(vote.Contest)
	if v.Result == nil || !v.Result.Pass || v.Contest == nil || v.Contest.Title != c.Title || v.Choice != vote.Choice {
		t.Fatalf("verify %s: result %+v, contest %+v, choice %q; want a pass in %q for %q", vote.ID, v.Result, v.Contest, v.Choice, c.Title, vote.Choice)
	}
	if html := getHTML(t, s, "/verify?vote_id="+vote.ID); !strings.Contains(html, "<strong>"+c.Title+"</strong>") {
		t.Errorf("verify page does not name the contest %q", c.Title)
	}
}

// TestVerifyNotYetIndexed: a receipt of a batch committed in the block after
// the index's last is not yet indexed (with the index's height and the
// receipt's block), on the page as in the API; once the index holds that
// block it passes. A receipt naming a block the index holds, of a batch it
// lacks (or of a seq past the index's integers), fails.
func TestVerifyNotYetIndexed(t *testing.T) {
	r := newReferendum(t)
	s := r.server(t, fakeLedger{r.Results})
	state := r.Election.States[0]
	votes := []ballot.Vote{r.Batches[0].Votes[0], r.Batches[0].Votes[1]}
	for i := range votes {
		votes[i].ID = fmt.Sprintf("%032x", 1000+i) // new votes, counted again as duplicates
	}
	tx := r.commit(t, state, 4, votes)
	var rec ballot.BatchRecord
	if err := json.Unmarshal(tx.Writes[0].Value, &rec); err != nil {
		t.Fatal(err)
	}
	next, prev, err := r.Index.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	receipt, err := proof.Receipt(rec, next, votes, 1)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(rc ballot.Receipt) verifyView { t.Helper(); return postVerify(t, s, rc) }
	if res := verify(receipt).Result; res.Verdict != proof.VerdictNotIndexed || res.Pass || len(res.Problems) > 0 || res.IndexHeight != next ||
		!strings.Contains(res.Pending, fmt.Sprintf("height %d", next)) || !strings.Contains(res.Pending, fmt.Sprintf("block %d", next)) {
		t.Fatalf("a receipt of block %d with the index at height %d: %+v", next, next, res)
	}
	raw, _ := json.Marshal(receipt)
	form := "receipt=" + url.QueryEscape(string(raw))
	req := httptest.NewRequest("POST", "/verify", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if html := w.Body.String(); !strings.Contains(html, "NOT YET INDEXED") || strings.Contains(html, ">FAIL<") || !strings.Contains(html, "try again shortly") {
		t.Errorf("verify page for a batch not yet indexed: %d %.2000s", w.Code, html)
	}
	early := receipt
	early.Block = next - 1 // a block the index holds, without the batch
	if res := verify(early).Result; res.Verdict != proof.VerdictFail || len(res.Problems) == 0 {
		t.Fatalf("a receipt of indexed block %d whose batch the index lacks: %+v", early.Block, res)
	}
	huge := early
	huge.Seq = math.MaxUint64 // a seq the index cannot hold names no batch (was a 500)
	if res := verify(huge).Result; res.Verdict != proof.VerdictFail || len(res.Problems) == 0 {
		t.Fatalf("a receipt of indexed block %d with seq %d: %+v", huge.Block, huge.Seq, res)
	}
	r.index(t, ledgertest.Block(next, prev, tx))
	if res := verify(receipt).Result; res.Verdict != proof.VerdictPass || !res.Pass || res.IndexHeight != next+1 {
		t.Fatalf("the receipt once its block is indexed: %+v", res)
	}
}

// TestVerifyFlaggedBatch: a transaction whose votes do not give the root it
// claims (vote 1 swapped after the root was taken) is indexed with RootOK
// false, and a receipt of the vote the root was taken over, whose proof
// reaches that root, fails on the page's API with the audit's finding.
func TestVerifyFlaggedBatch(t *testing.T) {
	r := newReferendum(t)
	state := r.Election.States[0]
	votes := slices.Clone(r.Batches[0].Votes[:2]) // new votes of a new voter each
	for i := range votes {
		votes[i].ID, votes[i].Nullifier = fmt.Sprintf("%032x", 3000+i), fmt.Sprintf("%064x", 3000+i)
	}
	honest, err := ballot.BuildBatch(state, 4, votes)
	if err != nil {
		t.Fatal(err)
	}
	carried := honest
	carried.Votes = slices.Clone(votes)
	carried.Votes[1].ID, carried.Votes[1].Nullifier = fmt.Sprintf("%032x", 3002), fmt.Sprintf("%064x", 3002)
	next, prev, err := r.Index.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	issues := r.indexAudited(t, ledgertest.Block(next, prev, ledgertest.CommitBatch("swapped", carried, nil)))
	if len(issues) != 1 || issues[0].Kind != audit.KindBatchRoot {
		t.Fatalf("the swapped batch's issues: %+v; want its root alone", issues)
	}
	c, err := r.Index.Batch(context.Background(), state, 4)
	if err != nil || c.RootOK {
		t.Fatalf("the indexed batch: %+v, %v; want RootOK false", c, err)
	}
	receipt, err := proof.Receipt(c.Record(), c.Block, votes, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res := postVerify(t, r.server(t, fakeLedger{r.Results}), receipt).Result; res.Verdict != proof.VerdictFail || !slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, "do not give the root "+honest.Root) }) {
		t.Fatalf("a receipt of a batch whose votes do not give its root: %+v", res)
	}
}

// postVerify POSTs receipt rc to s's /api/v1/verify as JSON and returns
// the answer, which must be a 200 with a result.
func postVerify(t *testing.T, s *Server, rc ballot.Receipt) verifyView {
	t.Helper()
	body, _ := json.Marshal(rc)
	req := httptest.NewRequest("POST", "/api/v1/verify", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var v verifyView
	if err := json.Unmarshal(w.Body.Bytes(), &v); w.Code != 200 || err != nil || v.Result == nil {
		t.Fatalf("POST /api/v1/verify: %d %.300s", w.Code, w.Body.String())
	}
	return v
}
