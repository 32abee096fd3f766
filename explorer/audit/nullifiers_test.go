package audit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestNullifierWrites: a commit that writes the nullifier records of
// exactly the votes it counts (a voter's votes in two contests both, a
// duplicate none) is not flagged; a record written for a vote not
// counted, one missing or other than the chaincode's, a roll mark over a
// counted vote's key, a delete, and a record written or deleted by another
// function are each
// flagged nullifier at their transaction. A commit the audit did not
// recount (it wrote no batch record) is that record's issue alone.
func TestNullifierWrites(t *testing.T) {
	e := stored(t, testElection())
	earlier := commitTx(t, "c0", build(t, "CA", 1, vote("CA", 5, "bob")))
	// Voter 1 in both contests, voter 2, and voter 1's race vote again (a duplicate).
	batch := build(t, "CA", 2, vote("CA", 1, "alice"), voteIn("CA", 1, question, "yes"), vote("CA", 2, "bob"), vote("CA", 1, "bob"))
	honest := commitTx(t, "c", batch, 3)
	if n := len(honest.Writes); n != 4 { // the batch record and three nullifier records
		t.Fatalf("the honest commit writes %d keys; want 4", n)
	}
	edit := func(tx ledgertest.Tx, change func(ws []fabricblock.Write) []fabricblock.Write) ledgertest.Tx {
		tx.Writes = change(slices.Clone(tx.Writes))
		return tx
	}
	record := func(v ballot.Vote, seq uint64, index int) []byte {
		value, err := ballot.NullifierRecord{State: v.State, Contest: v.Contest, Seq: seq, Index: index, VoteID: v.ID}.Value()
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
	nonVoter := vote("CA", 9, "alice")
	forNonVoter := fabricblock.Write{Namespace: "ballot", Key: ballot.NullifierKey("CA", nonVoter.Nullifier), Value: record(nonVoter, 2, 0)}
	deleteEarlier := fabricblock.Write{Namespace: "ballot", Key: ballot.NullifierKey("CA", vote("CA", 5, "bob").Nullifier), Delete: true}
	closeTx := statusTx(t, "close", "CloseElection", e, ballot.StatusClosed)
	for name, c := range map[string]struct {
		tx   ledgertest.Tx
		want []string
	}{
		"the chaincode's writes": {honest, nil},
		"a record for a voter who did not vote": {edit(honest, func(ws []fabricblock.Write) []fabricblock.Write { return append(ws, forNonVoter) }),
			[]string{"nullifier c: 1 nullifier keys written for no vote the transaction counts (first CA/" + nonVoter.Nullifier + ")"}},
		"a record missing": {edit(honest, func(ws []fabricblock.Write) []fabricblock.Write { return slices.Delete(ws, 2, 3) }),
			[]string{"nullifier c: batch CA/2: of its 3 counted votes' nullifier records, 1 not written and 0 written other than the chaincode writes them (first vote 1"}},
		"the duplicate's record written over the counted vote's": {edit(honest, func(ws []fabricblock.Write) []fabricblock.Write {
			return append(ws, fabricblock.Write{Namespace: "ballot", Key: ws[1].Key, Value: record(batch.Votes[3], 2, 3)})
		}), []string{"nullifier c: batch CA/2: of its 3 counted votes' nullifier records, 0 not written and 1 written other than the chaincode writes them (first vote 0"}},
		"a record locating another vote": {edit(honest, func(ws []fabricblock.Write) []fabricblock.Write {
			ws[3].Value = record(batch.Votes[2], 2, 1)
			return ws
		}), []string{"nullifier c: batch CA/2: of its 3 counted votes' nullifier records, 0 not written and 1 written other than the chaincode writes them (first vote 2"}},
		"a roll mark over a counted vote's key": {edit(honest, func(ws []fabricblock.Write) []fabricblock.Write {
			ws[1].Value = ballot.RollMark(president)
			return ws
		}), []string{"roll_chunk c: ", "nullifier c: batch CA/2: of its 3 counted votes' nullifier records, 0 not written and 1 written other than"}},
		"a commit deleting a record": {edit(honest, func(ws []fabricblock.Write) []fabricblock.Write { return append(ws, deleteEarlier) }),
			[]string{"nullifier c: a ballot CommitBatch transaction deleted 1 nullifier keys (first CA/" + vote("CA", 5, "bob").Nullifier + ")"}},
		"a commit without its batch record, not recounted": {edit(honest, func(ws []fabricblock.Write) []fabricblock.Write { return ws[1:] }),
			[]string{"batch_record c: batch CA/2: VALID transaction wrote no batch record"}}, // one fault, one issue
		"a close": {closeTx, nil},
		"a close writing a record": {edit(closeTx, func(ws []fabricblock.Write) []fabricblock.Write { return append(ws, forNonVoter) }),
			[]string{"nullifier close: a ballot CloseElection transaction wrote 1 nullifier records (first CA/" + nonVoter.Nullifier + "): only a CommitBatch"}},
		"a close deleting a record": {edit(closeTx, func(ws []fabricblock.Write) []fabricblock.Write { return append(ws, deleteEarlier) }),
			[]string{"nullifier close: a ballot CloseElection transaction deleted 1 nullifier keys"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setupTx(t, "s", e)}, {earlier}, {c.tx}})), c.want)
		})
	}
}

// TestNullifierWritesShared: a CommitBatches transaction is held to the
// records of both its batches' counted votes.
func TestNullifierWritesShared(t *testing.T) {
	e := testElection()
	e.States = []string{"CA", "NY"}
	ca, ny := build(t, "CA", 1, vote("CA", 1, "alice")), build(t, "NY", 1, vote("NY", 3, "bob"), vote("NY", 2, "alice"))
	shared := ledgertest.CommitBatches("t", []ballot.Batch{ca, ny}, nil)
	short := shared
	short.Writes = shared.Writes[:len(shared.Writes)-1] // NY's second vote's record
	for name, c := range map[string]struct {
		tx   ledgertest.Tx
		want []string
	}{
		"both batches' records": {shared, nil},
		"one record missing":    {short, []string{"nullifier t: batch NY/1: of its 2 counted votes' nullifier records, 1 not written"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setupTx(t, "s", stored(t, e))}, {c.tx}})), c.want)
		})
	}
}

// TestCrossStateNullifier: in an election whose roll is not sealed, a vote
// counted with a nullifier a vote of another state was counted with
// before (a voter counted twice in one contest, which the chaincode, its
// nullifier keys per state, does not stop) is flagged cross_state at its
// transaction, one issue a batch naming the vote and the state: counted in
// an earlier block, earlier in the block, or in the other batch of one
// CommitBatches. A voter's votes in two contests, a vote the recount
// rejected, and votes of one state are not flagged. The old audit flagged
// nothing.
func TestCrossStateNullifier(t *testing.T) {
	e := stored(t, testElection())
	e.States = []string{"CA", "NY", "TX"}
	setup := []ledgertest.Tx{{ID: "g", Config: true}, setupTx(t, "s", e)}
	twice := vote("NY", 1, "bob") // voter 1 voted in CA
	counted := commitTx(t, "ca", build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob")))
	flagged := "cross_state ny: batch NY/1: 1 counted votes whose nullifiers were counted before in another state, each a voter counted twice in one contest; the chaincode keeps a nullifier to one state only once the roll is sealed, and this election's is not (first: vote " +
		twice.ID + " in contest president, nullifier " + twice.Nullifier + ", counted before in CA)"
	ny := commitTx(t, "ny", build(t, "NY", 1, vote("NY", 3, "alice"), twice, voteIn("NY", 2, question, "yes")))
	for name, c := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string
	}{
		"counted in an earlier block":  {[][]ledgertest.Tx{setup, {counted}, {ny}}, []string{flagged}},
		"counted earlier in the block": {[][]ledgertest.Tx{setup, {counted, ny}}, []string{flagged}},
		"counted in the transaction's other batch": {[][]ledgertest.Tx{setup, {ledgertest.CommitBatches("ny", []ballot.Batch{
			build(t, "CA", 1, vote("CA", 1, "alice")), build(t, "NY", 1, vote("NY", 3, "alice"), twice)}, nil)}}, []string{flagged}},
		"two voters, one in two contests": {[][]ledgertest.Tx{setup, {counted}, {commitTx(t, "ny", build(t, "NY", 1, vote("NY", 3, "alice"), voteIn("NY", 1, question, "yes")))}}, nil},
		"again, rejected as a duplicate in its state": {[][]ledgertest.Tx{setup, {counted}, {ny}, {commitTx(t, "ny2", build(t, "NY", 2, vote("NY", 1, "alice")), 0)}},
			[]string{flagged}},
		"one state": {[][]ledgertest.Tx{setup, {counted}, {commitTx(t, "ca2", build(t, "CA", 2, vote("CA", 1, "bob")), 0)}}, nil},
		"several": {[][]ledgertest.Tx{setup, {counted}, {commitTx(t, "tx", build(t, "TX", 1, vote("TX", 2, "alice"), vote("TX", 1, "alice")))}},
			[]string{"cross_state tx: batch TX/1: 2 counted votes whose nullifiers were counted before in another state", "vote " + vote("TX", 2, "").ID + " in contest president", "; vote " + vote("TX", 1, "").ID}},
	} {
		t.Run(name, func(t *testing.T) {
			issues := issuesOf(auditChain(t, c.blocks))
			if len(c.want) > 1 { // one issue holding each
				for _, part := range c.want[1:] {
					if len(issues) != 1 || !strings.Contains(issues[0].Message, part) {
						t.Fatalf("issues %+v; want one holding %q", issues, part)
					}
				}
				c.want = c.want[:1]
			}
			wantIssues(t, issues, c.want)
		})
	}
}

// probeCounter is a History that counts the keys the cross_state check and
// the duplicate rule look up: by state (UsedNullifiers) and by nullifier
// alone (MaybeUsedAnywhere); with unfiltered, it cannot rule a nullifier
// out (known false), as a store without a filter of nullifiers alone.
type probeCounter struct {
	*memHistory
	unfiltered        bool
	byState, anywhere int
}

func (p *probeCounter) UsedNullifiers(ctx context.Context, keys []audit.Nullifier) (map[audit.Nullifier]bool, error) {
	p.byState += len(keys)
	return p.memHistory.UsedNullifiers(ctx, keys)
}

func (p *probeCounter) MaybeUsedAnywhere(ctx context.Context, nullifiers []string) (map[string]bool, bool, error) {
	p.anywhere += len(nullifiers)
	if p.unfiltered {
		return nil, false, nil
	}
	return p.memHistory.MaybeUsedAnywhere(ctx, nullifiers)
}

// manyStates is an election of 51 states, its roll not sealed, after a
// block counting votes (voters 0 to votes-1) in the first, and the block
// of a batch of votes votes in the second, the last of a voter counted in
// the first (a cross_state finding): the chain so far, and the block.
func manyStates(t testing.TB, votes int) (chain [][]ledgertest.Tx, next []ledgertest.Tx, twice ballot.Vote) {
	e := stored(t, testElection())
	e.States = make([]string, 51)
	for i := range e.States {
		e.States[i] = fmt.Sprintf("S%02d", i)
	}
	first, second := make([]ballot.Vote, votes), make([]ballot.Vote, votes)
	for i := range votes {
		first[i], second[i] = vote("S00", i, "alice"), vote("S01", votes+i, "alice")
	}
	second[votes-1] = vote("S01", 0, "bob")
	chain = [][]ledgertest.Tx{{{ID: "g", Config: true}, setupTx(t, "s", e)}, {commitTx(t, "s00", build(t, "S00", 1, first...))}}
	return chain, []ledgertest.Tx{commitTx(t, "s01", build(t, "S01", 1, second...))}, second[votes-1]
}

// TestCrossStateProbesOncePerVote: with 51 states, the audit of each of
// two 1,000-vote batches asks of its nullifiers once by nullifier alone
// and once by state for the duplicate rule, and in each other state only
// for the one its History cannot rule out (here the voter counted before,
// flagged): 2,000 keys by nullifier, 2,000 + 50 by state. The old check
// asked for every vote in each of the 50 other states (102,000 by state).
func TestCrossStateProbesOncePerVote(t *testing.T) {
	const votes = 1000
	chain, next, twice := manyStates(t, votes)
	h := &probeCounter{memHistory: newHistory()}
	issues := issuesOf(auditChainWith(t, h, append(chain, next)))
	wantIssues(t, issues, []string{"cross_state s01: batch S01/1: 1 counted votes whose nullifiers were counted before in another state"})
	if !strings.Contains(issues[0].Message, "vote "+twice.ID+" in contest president, nullifier "+twice.Nullifier+", counted before in S00") {
		t.Errorf("issue %q does not name vote %s counted before in S00", issues[0].Message, twice.ID)
	}
	if h.anywhere != 2*votes || h.byState != 2*votes+50 {
		t.Errorf("%d keys by nullifier, %d by state; want %d and %d", h.anywhere, h.byState, 2*votes, 2*votes+50)
	}
}

// BenchmarkCrossStateProbes audits a 1,000-vote batch of an election of
// 51 states and reports the History's keys a counted vote (by state, by
// nullifier alone): with a History that rules nullifiers out (the index's
// filter of nullifiers alone) about 1 + 1, without (as before: each vote
// in every other state) 51.
func BenchmarkCrossStateProbes(b *testing.B) {
	const votes = 1000
	for _, unfiltered := range []bool{false, true} {
		b.Run(fmt.Sprintf("unfiltered=%t", unfiltered), func(b *testing.B) {
			chain, next, _ := manyStates(b, votes)
			h := &probeCounter{memHistory: newHistory(), unfiltered: unfiltered}
			reports := auditChainWith(b, h, chain)
			blocks := ledgertest.Chain(append(slices.Clone(chain), next)...)
			blk, err := fabricblock.Parse(blocks[len(blocks)-1])
			if err != nil {
				b.Fatal(err)
			}
			prev := reports[len(reports)-1].Block.Hash
			h.byState, h.anywhere = 0, 0
			for b.Loop() {
				if _, err := (audit.Auditor{Chaincode: "ballot", SkipSignatures: true}).Block(b.Context(), prev, blk, h); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(h.byState)/float64(b.N*votes), "by-state-keys/vote")
			b.ReportMetric(float64(h.anywhere)/float64(b.N*votes), "nullifier-keys/vote")
		})
	}
}
