package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// memHistory is the History of the blocks audited so far, in memory.
type memHistory struct {
	nullifiers map[[2]string]bool
	anywhere   map[string]bool // the nullifiers of nullifiers, whatever their state
	roots      map[string]string
	election   *ballot.Election
	finalised  bool                 // a block wrote the election record finalised
	roll       map[[2]string]string // (state, nullifier) → contest
	chunks     map[int]ballot.RollChunkRecord
	sealed     bool
	orderers   *fabricblock.ChannelConfig
	log        audit.IntakeLog
	batched    map[string]ballot.BatchTotals // of each state's first commits
	policies   map[string]fabricblock.EndorsementPolicy
	validTxIDs map[string]bool
	approvals  audit.Approvals
}

func newHistory() *memHistory {
	return &memHistory{nullifiers: map[[2]string]bool{}, anywhere: map[string]bool{}, roots: map[string]string{}, roll: map[[2]string]string{},
		chunks: map[int]ballot.RollChunkRecord{}, log: audit.IntakeLog{Heads: map[string]ballot.AnchoredHead{}}, batched: map[string]ballot.BatchTotals{}}
}

func (h *memHistory) UsedNullifiers(_ context.Context, keys []audit.Nullifier) (map[audit.Nullifier]bool, error) {
	out := map[audit.Nullifier]bool{}
	for _, k := range keys {
		if h.nullifiers[[2]string{k.State, k.Nullifier}] {
			out[k] = true
		}
	}
	return out, nil
}

// MaybeUsedAnywhere answers exactly: the nullifiers a counted vote used.
func (h *memHistory) MaybeUsedAnywhere(_ context.Context, nullifiers []string) (map[string]bool, bool, error) {
	out := map[string]bool{}
	for _, n := range nullifiers {
		if h.anywhere[n] {
			out[n] = true
		}
	}
	return out, true, nil
}
func (h *memHistory) Election(context.Context) (*ballot.Election, error) { return h.election, nil }
func (h *memHistory) ElectionFinalised(context.Context) (bool, error)    { return h.finalised, nil }
func (h *memHistory) RollSealed(context.Context) (bool, error)           { return h.sealed, nil }
func (h *memHistory) RollContests(_ context.Context, keys []audit.Nullifier) (map[audit.Nullifier]string, error) {
	out := map[audit.Nullifier]string{}
	for _, k := range keys {
		if c, ok := h.roll[[2]string{k.State, k.Nullifier}]; ok {
			out[k] = c
		}
	}
	return out, nil
}
func (h *memHistory) ChannelConfig(context.Context) (*fabricblock.ChannelConfig, error) {
	return h.orderers, nil
}
func (h *memHistory) RollChunks(context.Context) ([]ballot.RollChunkRecord, error) {
	var out []ballot.RollChunkRecord
	for _, i := range slices.Sorted(maps.Keys(h.chunks)) {
		out = append(out, h.chunks[i])
	}
	return out, nil
}
func (h *memHistory) IntakeLog(context.Context) (audit.IntakeLog, error) {
	return audit.IntakeLog{Keys: h.log.Keys, Heads: maps.Clone(h.log.Heads)}, nil
}
func (h *memHistory) Batched(context.Context) (map[string]ballot.BatchTotals, error) {
	return maps.Clone(h.batched), nil
}
func (h *memHistory) Policies(context.Context) (map[string]fabricblock.EndorsementPolicy, error) {
	return maps.Clone(h.policies), nil
}
func (h *memHistory) BatchRoot(_ context.Context, state string, seq uint64) (string, bool, error) {
	r, ok := h.roots[fmt.Sprint(state, "/", seq)]
	return r, ok, nil
}

// add records a report's batches, as the index does when it saves them.
func (h *memHistory) ValidTxIDs(_ context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		if h.validTxIDs[id] {
			out[id] = true
		}
	}
	return out, nil
}

func (h *memHistory) Approvals(context.Context) (audit.Approvals, error) {
	out := audit.Approvals{}
	for org, a := range h.approvals {
		out[org] = maps.Clone(a)
	}
	return out, nil
}

func (h *memHistory) add(r audit.Report) {
	for org, a := range r.Approvals {
		if h.approvals == nil {
			h.approvals = audit.Approvals{}
		}
		if h.approvals[org] == nil {
			h.approvals[org] = map[string][]byte{}
		}
		maps.Copy(h.approvals[org], a)
	}
	for _, tx := range r.Block.Txs {
		if tx.Valid() {
			if h.validTxIDs == nil {
				h.validTxIDs = map[string]bool{}
			}
			h.validTxIDs[tx.ID] = true
		}
	}
	if r.Election != nil {
		h.election = r.Election
	}
	h.finalised = h.finalised || r.ElectionFinalised
	for _, e := range r.Roll {
		h.roll[[2]string{e.State, e.Nullifier}] = e.Contest
	}
	for _, c := range r.RollChunks {
		h.chunks[c.Index] = c
	}
	if r.ChannelConfig != nil {
		h.orderers = r.ChannelConfig
	}
	h.sealed = h.sealed || r.RollSealed
	if r.LogKeys != nil {
		h.log.Keys = *r.LogKeys
	}
	for cc, p := range r.Policies {
		if h.policies == nil {
			h.policies = map[string]fabricblock.EndorsementPolicy{}
		}
		h.policies[cc] = p
	}
	for _, a := range r.LogHeads {
		h.log.Heads[a.Head.State] = a
	}
	for _, b := range r.Batches {
		if b.Resubmission {
			continue
		}
		if b.First() {
			t := h.batched[b.Batch.State]
			t.Add(ballot.BatchRecord{Counted: b.Counted(), Rejected: b.Rejected})
			h.batched[b.Batch.State] = t
		}
		h.roots[b.Batch.ID()] = b.Batch.Root
		for i, v := range b.Batch.Votes {
			if !slices.Contains(b.Rejected, i) {
				h.nullifiers[[2]string{v.State, v.Nullifier}] = true
				h.anywhere[v.Nullifier] = true
			}
		}
	}
}

// auditChain audits blocks in order and returns the reports.
func auditChain(t testing.TB, blocks [][]ledgertest.Tx) []audit.Report {
	t.Helper()
	return auditChainWith(t, newHistory(), blocks)
}

// recordingHistory is a History that records each report audited.
type recordingHistory interface {
	audit.History
	add(audit.Report)
}

// auditChainWith is auditChain against h.
func auditChainWith(t testing.TB, h recordingHistory, blocks [][]ledgertest.Tx) []audit.Report {
	t.Helper()
	var prev []byte
	var reports []audit.Report
	for _, blk := range ledgertest.Chain(blocks...) {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		r, err := audit.Auditor{Chaincode: "ballot", SkipSignatures: true}.Block(t.Context(), prev, b, h)
		if err != nil {
			t.Fatal(err)
		}
		h.add(r)
		prev = b.Hash
		reports = append(reports, r)
	}
	return reports
}

// The contests of testElection.
const (
	president = "president"
	question  = "Q-1"
)

// testElection is an election of CA with a race and a question.
func testElection() ballot.Election {
	return ballot.Election{ID: "e", Name: "E", States: []string{"CA"},
		Contests: []ballot.Contest{
			{ID: president, Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob"}},
			{ID: question, Title: "Question 1", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
		},
		OpensAt: time.Date(2026, 11, 3, 7, 0, 0, 0, time.UTC), ClosesAt: time.Date(2026, 11, 3, 20, 0, 0, 0, time.UTC),
		RollRoot: ballot.HashHex(ballot.MerkleRoot(nil)), RollEntries: new(0), Status: ballot.StatusConfigured,
		Batchers: []string{"User1@commission.votechain.test"}}
}

// genesis is a chain's first block for tests of batches: the channel's
// genesis and the set-up of testElection open to states (the chaincode
// refuses every batch before a set-up).
func genesis(t *testing.T, states ...string) []ledgertest.Tx {
	t.Helper()
	e := testElection()
	e.States = states
	return []ledgertest.Tx{{ID: "g", Config: true}, setupTx(t, "s", e)}
}

// vote is voter's vote of state for president.
func vote(state string, voter int, choice string) ballot.Vote {
	return voteIn(state, voter, president, choice)
}

// voteIn is voter's vote of state in contest, with the voter's nullifier
// for the contest.
func voteIn(state string, voter int, contest, choice string) ballot.Vote {
	null := ballot.NullifierOf(ballot.VoterKey([]byte("audit-test"), "audit-test", fmt.Sprint(voter), "c"), contest)
	return ballot.Vote{ID: fmt.Sprintf("%032x", voter+1), State: state, Contest: contest, Nullifier: ballot.HashHex(null), Choice: choice,
		CastAt: time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC).UnixMilli()}
}

// commitTx is the transaction the chaincode produces for batch b, which
// rejects the votes at rejected as duplicates.
func commitTx(t testing.TB, id string, b ballot.Batch, rejected ...int) ledgertest.Tx {
	t.Helper()
	rejects := map[int]string{}
	for _, i := range rejected {
		rejects[i] = ballot.RejectDuplicate
	}
	return commitTxWith(t, id, b, rejects)
}

// commitTxWith is commitTx with the reasons of rejects (index → reason).
func commitTxWith(t testing.TB, id string, b ballot.Batch, rejects map[int]string) ledgertest.Tx {
	t.Helper()
	return ledgertest.CommitBatch(id, b, rejects)
}

func build(t testing.TB, state string, seq uint64, votes ...ballot.Vote) ballot.Batch {
	t.Helper()
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kinds(reports []audit.Report) []string {
	var ks []string
	for _, r := range reports {
		for _, is := range r.Issues {
			ks = append(ks, is.Kind)
		}
	}
	return ks
}

// TestHonestLedger: a duplicate nullifier across blocks and inside one
// block (across two transactions) is recounted as the chaincode rejected it;
// a resubmitted batch counts nothing; nothing is flagged.
func TestHonestLedger(t *testing.T) {
	ca1 := build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob"), vote("CA", 3, "alice"))
	ca2 := build(t, "CA", 2, vote("CA", 4, "bob"), vote("CA", 1, "bob")) // voter 1 again
	tx1 := build(t, "TX", 1, vote("TX", 5, "bob"))
	tx2 := build(t, "TX", 2, vote("TX", 5, "alice"), vote("TX", 6, "alice")) // voter 5 again, same block as TX/1
	reports := auditChain(t, [][]ledgertest.Tx{
		genesis(t, "CA", "TX"),
		{commitTx(t, "t1", ca1)},
		{commitTx(t, "t2", ca2, 1), commitTx(t, "t3", tx1), commitTx(t, "t4", tx2, 0)},
		{{ID: "t5", Function: "CommitBatch", Args: commitTx(t, "", ca1).Args}}, // retry: writes nothing
	})
	if ks := kinds(reports); len(ks) != 0 {
		t.Fatalf("honest ledger flagged: %v %+v", ks, reports)
	}
	b := reports[2].Batches
	if len(b) != 3 || !slices.Equal(b[0].Rejected, []int{1}) || !slices.Equal(b[2].Rejected, []int{0}) || b[1].Counted() != 1 {
		t.Fatalf("block 2 recount: %+v", b)
	}
	if r := reports[3].Batches; len(r) != 1 || !r[0].Resubmission {
		t.Fatalf("retry not recognised as a resubmission: %+v", r)
	}
	// Each batch carries its votes' leaves (the log monitor places them).
	for _, bt := range append(reports[1].Batches, b...) {
		if want, _ := ballot.Leaves(bt.Batch.Votes); len(want) == 0 || !slices.Equal(bt.Leaves, want) {
			t.Errorf("batch %s: leaves %x, want %x", bt.Batch.ID(), bt.Leaves, want)
		}
	}
}

// setupTx is the transaction that sets up election e, as this chaincode
// does: its record marked finalise_needs_totals (stored).
func setupTx(t testing.TB, id string, e ballot.Election) ledgertest.Tx {
	t.Helper()
	return ledgertest.SetupElection(id, e)
}

// stored is the record this chaincode's SetupElection stores for e, marked
// finalise_needs_totals: its close and finalise write it on.
func stored(t testing.TB, e ballot.Election) ballot.Election {
	t.Helper()
	rec, err := ballot.SetupElection(e)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestRefusedVotesRecounted: with the election known from its set-up
// transaction, the recount rejects what the election refuses, with the
// chaincode's reasons; a record that counts such a vote, or gives another
// reason, is flagged.
func TestRefusedVotesRecounted(t *testing.T) {
	e := testElection()
	early := vote("CA", 2, "bob")
	early.CastAt = e.OpensAt.Add(-time.Second).UnixMilli()
	b := build(t, "CA", 1, vote("CA", 1, "alice"), early, vote("CA", 3, "mallory"), vote("CA", 1, "bob"),
		voteIn("CA", 1, question, "yes"), voteIn("CA", 4, "senate", "yes"), voteIn("CA", 5, question, "alice"))
	honest := map[int]string{1: ballot.RejectOutsideWindow, 2: ballot.RejectUnknownChoice, 3: ballot.RejectDuplicate,
		5: ballot.RejectUnknownContest, 6: ballot.RejectUnknownChoice}
	cases := map[string]struct {
		rejects map[int]string
		flagged bool
	}{
		"honest":          {honest, false},
		"refused counted": {map[int]string{2: ballot.RejectUnknownChoice, 3: ballot.RejectDuplicate, 5: ballot.RejectUnknownContest, 6: ballot.RejectUnknownChoice}, true},
		"reason misstated": {map[int]string{1: ballot.RejectDuplicate, 2: ballot.RejectUnknownChoice, 3: ballot.RejectDuplicate,
			5: ballot.RejectUnknownChoice, 6: ballot.RejectUnknownChoice}, true},
		"other contest's vote a duplicate": {map[int]string{1: ballot.RejectOutsideWindow, 2: ballot.RejectUnknownChoice, 3: ballot.RejectDuplicate,
			4: ballot.RejectDuplicate, 5: ballot.RejectUnknownContest, 6: ballot.RejectUnknownChoice}, true},
	}
	for name, c := range cases {
		reports := auditChain(t, [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setupTx(t, "s", e)}, {commitTxWith(t, "t1", b, c.rejects)}})
		ks := kinds(reports)
		if flagged := slices.Contains(ks, audit.KindBatchRecord); flagged != c.flagged || (!c.flagged && len(ks) != 0) {
			t.Errorf("%s: issues %v; want flagged %v", name, ks, c.flagged)
		}
		got := reports[2].Batches[0]
		if !slices.Equal(got.Rejected, []int{1, 2, 3, 5, 6}) ||
			!slices.Equal(got.Reasons, []string{ballot.RejectOutsideWindow, ballot.RejectUnknownChoice, ballot.RejectDuplicate,
				ballot.RejectUnknownContest, ballot.RejectUnknownChoice}) {
			t.Errorf("%s: recount rejects %v for %v", name, got.Rejected, got.Reasons)
		}
		if want := (ballot.Tally{president: {"alice": 1}, question: {"yes": 1}}); !got.Tallies.Equal(want) {
			t.Errorf("%s: recount tallies %v, want %v", name, got.Tallies, want)
		}
	}
}

// TestTamperedLedger: each way of tampering is flagged with its kind.
func TestTamperedLedger(t *testing.T) {
	b := build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob"))
	honest := commitTx(t, "t1", b)

	otherVotes := b
	otherVotes.Votes = []ballot.Vote{b.Votes[0], vote("CA", 3, "alice")} // the claimed root no longer fits
	swapped := commitTx(t, "t1", b)
	swapped.Args = commitTx(t, "t1", otherVotes).Args

	claims := b
	claims.Tallies = ballot.Tally{president: {"alice": 2}}
	wrongClaim := commitTx(t, "t1", claims)

	wrongRecord := withRecord(t, honest, func(rec *ballot.BatchRecord) { rec.Tallies[president]["bob"] = 5 })
	// The same counts, filed under another contest.
	otherContest := withRecord(t, honest, func(rec *ballot.BatchRecord) { rec.Tallies = ballot.Tally{question: rec.Tallies[president]} })

	noEvent := commitTx(t, "t1", b)
	noEvent.Event = nil

	noRecord := commitTx(t, "t1", b)
	noRecord.Writes = nil

	cases := map[string]struct {
		tx   ledgertest.Tx
		want string
	}{
		"votes swapped":        {swapped, audit.KindBatchRoot},
		"tallies claimed":      {wrongClaim, audit.KindBatchTally},
		"record tallies":       {wrongRecord, audit.KindBatchRecord},
		"record contest":       {otherContest, audit.KindBatchRecord},
		"event missing":        {noEvent, audit.KindBatchEvent},
		"record missing":       {noRecord, audit.KindBatchRecord},
		"not a batch":          {ledgertest.Tx{ID: "t1", Function: "CommitBatch", Args: [][]byte{[]byte("{}")}}, audit.KindBatchDecode},
		"honest, for contrast": {honest, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ks := kinds(auditChain(t, [][]ledgertest.Tx{genesis(t, "CA"), {c.tx}}))
			if (c.want == "" && len(ks) != 0) || (c.want != "" && !slices.Contains(ks, c.want)) {
				t.Fatalf("issues %v; want %q", ks, c.want)
			}
		})
	}
}

// withRecord is the commit tx with the batch record it writes (its first
// write) edited.
func withRecord(t *testing.T, tx ledgertest.Tx, edit func(*ballot.BatchRecord)) ledgertest.Tx {
	t.Helper()
	var rec ballot.BatchRecord
	if err := json.Unmarshal(tx.Writes[0].Value, &rec); err != nil {
		t.Fatal(err)
	}
	edit(&rec)
	tx.Writes = slices.Clone(tx.Writes)
	tx.Writes[0].Value = mustJSON(t, rec)
	return tx
}

// TestRecordFieldsCompared: each field of the batch record the recount
// gives (its batch's state and seq, root, number of votes, transaction)
// is compared with the record written: one that differs is flagged
// batch_record, saying which.
func TestRecordFieldsCompared(t *testing.T) {
	b := build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob"))
	honest := commitTx(t, "t1", b)
	otherRoot := build(t, "CA", 1, vote("CA", 3, "alice")).Root
	for name, c := range map[string]struct {
		edit func(*ballot.BatchRecord)
		want string // the batch_record issue's message part; "" for none
	}{
		"honest":          {func(*ballot.BatchRecord) {}, ""},
		"another state":   {func(rec *ballot.BatchRecord) { rec.State = "NY" }, "record is of batch NY/1"},
		"another seq":     {func(rec *ballot.BatchRecord) { rec.Seq = 2 }, "record is of batch CA/2"},
		"another root":    {func(rec *ballot.BatchRecord) { rec.Root = otherRoot }, "record root " + otherRoot + ", transaction root " + b.Root},
		"a vote more":     {func(rec *ballot.BatchRecord) { rec.Votes = 3 }, "record holds 3 votes, transaction 2"},
		"another tx's id": {func(rec *ballot.BatchRecord) { rec.TxID = "t0" }, "record names transaction t0"},
	} {
		t.Run(name, func(t *testing.T) {
			var got []audit.Issue
			for _, is := range issuesOf(auditChain(t, [][]ledgertest.Tx{{{ID: "g", Config: true}}, {withRecord(t, honest, c.edit)}})) {
				if is.Kind == audit.KindBatchRecord {
					got = append(got, is)
				}
			}
			switch {
			case c.want == "" && len(got) != 0:
				t.Fatalf("flagged: %+v", got)
			case c.want != "" && (len(got) != 1 || got[0].TxID != "t1" || !strings.Contains(got[0].Message, c.want)):
				t.Fatalf("batch_record issues %+v; want one at t1 saying %q", got, c.want)
			}
		})
	}
}

// TestUncarriedBatchRecords: a VALID transaction that writes a batch
// record (any key in the range of batch records) of a batch it does not
// commit, whatever its function, or deletes one, is flagged batch_record:
// the chaincode's results would count a record no recount covers.
func TestUncarriedBatchRecords(t *testing.T) {
	e := stored(t, testElection())
	c1 := commitTx(t, "c1", build(t, "CA", 1, vote("CA", 1, "alice")))
	other := commitTx(t, "c9", build(t, "CA", 9, vote("CA", 2, "bob"))).Writes[0] // CA/9's record
	withWrite := func(tx ledgertest.Tx, w fabricblock.Write) ledgertest.Tx {
		tx.Writes = append(slices.Clone(tx.Writes), w)
		return tx
	}
	closeTx := statusTx(t, "close", "CloseElection", e, ballot.StatusClosed)
	odd := fabricblock.Write{Namespace: "ballot", Key: "\x00batch\x00CA\x00x\x00", Value: other.Value}
	deleted := ledgertest.Tx{ID: "del", Function: "CommitBatch", Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.BatchKey("CA", 1), Delete: true}}}
	undecodable := commitTx(t, "c3", build(t, "CA", 3, vote("CA", 4, "carol"))) // its record written, its argument no batch
	undecodable.Args = [][]byte{[]byte(`{"state":"CA"`)}
	for name, c := range map[string]struct {
		tx   ledgertest.Tx
		want []string
	}{
		"a close":                          {closeTx, nil},
		"a close writing a batch record":   {withWrite(closeTx, other), []string{"batch_record close: a ballot CloseElection transaction wrote a record of batch CA/9, which it does not commit"}},
		"a batch writing another's record": {withWrite(commitTx(t, "c2", build(t, "CA", 2, vote("CA", 3, "bob"))), other), []string{"batch_record c2: a ballot CommitBatch transaction wrote a record of batch CA/9"}},
		"a record under a key of no batch": {withWrite(closeTx, odd), []string{`batch_record close: a ballot CloseElection transaction wrote a record of batch "\x00batch\x00CA\x00x\x00"`}},
		"a batch record deleted":           {deleted, []string{"batch_record del: a ballot CommitBatch transaction deleted the record of batch CA/1"}},
		"a batch that does not decode":     {undecodable, []string{"batch_decode c3: "}}, // one fault, one issue
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setupTx(t, "s", e)}, {c1}, {c.tx}})), c.want)
		})
	}
}

// TestBrokenChain: a block whose previous hash or data does not match is
// flagged.
func TestBrokenChain(t *testing.T) {
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{{ID: "a", Config: true}}, []ledgertest.Tx{{ID: "b", Config: true}})
	blocks[1].Header.PreviousHash[0] ^= 1 // block 1 no longer links to block 0, nor block 2 to block 1
	env := blocks[2].Data.Data[0]
	env[len(env)-1] ^= 1 // a byte of block 2's envelope signature: its data no longer fits its hash
	var prev []byte
	var got []string
	for _, blk := range blocks {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		r, err := audit.Auditor{Chaincode: "ballot", SkipSignatures: true}.Block(t.Context(), prev, b, newHistory())
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range r.Issues {
			got = append(got, fmt.Sprintf("%d %s", is.Block, is.Kind))
		}
		prev = b.Hash
	}
	if want := []string{"1 previous_hash", "2 previous_hash", "2 data_hash"}; !slices.Equal(got, want) {
		t.Fatalf("issues %v; want %v", got, want)
	}
}

// sealedRoll returns e with the roll of votes' nullifiers (each for its
// vote's contest) as its roll root, and the LoadRoll of that roll's one
// chunk and the SealRoll that follows, as the chaincode writes them.
func sealedRoll(e ballot.Election, votes ...ballot.Vote) (ballot.Election, ledgertest.Tx, ledgertest.Tx) {
	entries := make([]ballot.RollEntry, len(votes))
	for i, v := range votes {
		entries[i] = ballot.RollEntry{State: v.State, Contest: v.Contest, Nullifier: v.Nullifier}
	}
	_, loads, seal := ledgertest.Roll("load", entries)
	e.SetRoll(entries)
	return e, loads[0], seal
}

// rollPlacements are the two places of a roll's marks the recount looks
// up: in a block before the batch's (History) and earlier in its block.
func rollPlacements(setup, load, seal ledgertest.Tx, commits ...ledgertest.Tx) map[string][][]ledgertest.Tx {
	return map[string][][]ledgertest.Tx{
		"roll in an earlier block": {{setup, load}, append([]ledgertest.Tx{seal}, commits...)},
		"roll in the same block":   {{setup}, append([]ledgertest.Tx{load, seal}, commits...)},
	}
}

// rollEntries are the roll entries of all reports.
func rollEntries(reports []audit.Report) []ballot.RollEntry {
	var out []ballot.RollEntry
	for _, r := range reports {
		out = append(out, r.Roll...)
	}
	return out
}

// TestRecountRoll: once a block seals the roll, the recount rejects a vote
// not on the roll its LoadRoll transactions wrote (in earlier blocks or
// earlier in the block) as not_on_roll, and flags a record that counted it.
func TestRecountRoll(t *testing.T) {
	on, alsoOn, off := vote("CA", 1, "alice"), vote("CA", 2, "bob"), vote("CA", 3, "alice")
	offState := vote("NY", 1, "alice") // voter 1 is on the roll of CA only
	honest := build(t, "CA", 1, on, off, alsoOn)
	lying := build(t, "NY", 1, offState)
	e := testElection()
	e.States = []string{"CA", "NY"}
	e, load, seal := sealedRoll(e, on, alsoOn)
	for name, blocks := range rollPlacements(setupTx(t, "s", e), load, seal, commitTxWith(t, "c1", honest, map[int]string{1: ballot.RejectNotOnRoll})) {
		reports := auditChain(t, append(blocks, []ledgertest.Tx{commitTxWith(t, "c2", lying, nil)}))
		if len(rollEntries(reports)) != 2 || reports[0].RollSealed || !reports[1].RollSealed {
			t.Fatalf("%s: roll of the reports: %+v sealed %v, %v", name, rollEntries(reports), reports[0].RollSealed, reports[1].RollSealed)
		}
		b := reports[1].Batches[0]
		if !slices.Equal(b.Rejected, []int{1}) || !slices.Equal(b.Reasons, []string{ballot.RejectNotOnRoll}) || !b.RecordOK {
			t.Fatalf("%s: honest batch recounted as %+v", name, b)
		}
		if len(reports[0].Issues)+len(reports[1].Issues) != 0 || len(reports[2].Issues) == 0 {
			t.Fatalf("%s: issues %v; want only the record that counted a vote off the roll", name, kinds(reports))
		}
		for _, is := range reports[2].Issues { // the record, and the nullifier record of the vote it counted
			if is.Kind != audit.KindBatchRecord && is.Kind != audit.KindNullifier || is.TxID != "c2" {
				t.Errorf("%s: issue %+v; want batch_record or nullifier of c2", name, is)
			}
		}
	}
	// Before the seal, no vote is checked against the roll.
	unsealed := auditChain(t, [][]ledgertest.Tx{{setupTx(t, "s", e), load, commitTxWith(t, "c", build(t, "CA", 1, off), nil)}})
	if len(kinds(unsealed)) != 0 || len(unsealed[0].Batches[0].Rejected) != 0 {
		t.Fatalf("unsealed roll: %v, %+v", kinds(unsealed), unsealed[0].Batches[0])
	}
}

// TestRecountRollPerContest: the recount reads the contest of each roll
// mark: a vote whose nullifier is on the roll for another contest (marked
// in an earlier block or earlier in the block) is not_on_roll, a record
// that counted it is flagged, and the report's roll entries carry their
// contest.
func TestRecountRollPerContest(t *testing.T) {
	race1, q1, race2 := vote("CA", 1, "alice"), voteIn("CA", 1, question, "yes"), vote("CA", 2, "bob")
	misfiled := voteIn("CA", 2, question, "no")
	misfiled.Nullifier = race2.Nullifier // on the roll, for the race only
	sameVoter := voteIn("CA", 3, question, "no")
	sameVoterRace := vote("CA", 3, "alice")
	sameVoter.Nullifier = sameVoterRace.Nullifier
	honest := build(t, "CA", 1, race1, q1, race2, misfiled, sameVoter)
	rejects := map[int]string{3: ballot.RejectNotOnRoll, 4: ballot.RejectNotOnRoll}
	e, load, seal := sealedRoll(testElection(), race1, q1, race2, sameVoterRace)
	for name, blocks := range rollPlacements(setupTx(t, "s", e), load, seal, commitTxWith(t, "c1", honest, rejects)) {
		reports := auditChain(t, blocks)
		if ks := kinds(reports); len(ks) != 0 {
			t.Fatalf("%s: honest ledger flagged: %v", name, ks)
		}
		if roll := rollEntries(reports); len(roll) != 4 || !slices.Contains(roll, ballot.RollEntry{State: "CA", Contest: question, Nullifier: q1.Nullifier}) {
			t.Fatalf("%s: roll entries %+v", name, roll)
		}
		b := reports[1].Batches[0]
		if !slices.Equal(b.Rejected, []int{3, 4}) || !slices.Equal(b.Reasons, []string{ballot.RejectNotOnRoll, ballot.RejectNotOnRoll}) ||
			!b.Tallies.Equal(ballot.Tally{president: {"alice": 1, "bob": 1}, question: {"yes": 1}}) {
			t.Fatalf("%s: recount %+v", name, b)
		}
	}
	for name, blocks := range rollPlacements(setupTx(t, "s", e), load, seal, commitTxWith(t, "c1", honest, map[int]string{4: ballot.RejectNotOnRoll})) {
		lying := auditChain(t, blocks)
		if ks := kinds(lying); !slices.Contains(ks, audit.KindBatchRecord) || slices.ContainsFunc(ks, func(k string) bool { return k != audit.KindBatchRecord && k != audit.KindNullifier }) {
			t.Fatalf("%s: a record counting a vote on the roll for another contest: issues %v, want batch_record (and nullifier, for its record of the vote)", name, ks)
		}
	}
}

// TestSharedTransaction: a CommitBatches transaction carrying two states'
// batches is audited batch by batch, each recounted against the ledger
// before it (a duplicate of an earlier block is rejected), a batch already
// committed in it is a resubmission, and tampering with one batch's part
// of the shared event or records is flagged.
func TestSharedTransaction(t *testing.T) {
	ca1 := build(t, "CA", 1, vote("CA", 1, "alice"))
	ca2 := build(t, "CA", 2, vote("CA", 2, "bob"), vote("CA", 1, "bob")) // voter 1 again
	tx1 := build(t, "TX", 1, vote("TX", 5, "bob"), vote("TX", 6, "alice"))
	shared := ledgertest.CommitBatches("t2", []ballot.Batch{ca2, tx1}, []map[int]string{{1: ballot.RejectDuplicate}, nil})
	reports := auditChain(t, [][]ledgertest.Tx{genesis(t, "CA", "TX"), {commitTx(t, "t1", ca1)}, {shared}})
	if ks := kinds(reports); len(ks) != 0 {
		t.Fatalf("honest shared transaction flagged: %v", ks)
	}
	b := reports[2].Batches
	if len(b) != 2 || b[0].Batch.ID() != "CA/2" || b[1].Batch.ID() != "TX/1" || b[0].TxID != "t2" || b[1].TxID != "t2" {
		t.Fatalf("batches of the shared transaction: %+v", b)
	}
	if !slices.Equal(b[0].Rejected, []int{1}) || b[1].Counted() != 2 || reports[2].Votes() != 4 {
		t.Fatalf("recount of the shared transaction: %+v", b)
	}
	if got, want := string(b[1].Raw), string(mustJSON(t, tx1)); got != want {
		t.Fatalf("raw batch %s, want %s", got, want)
	}

	// A retry carrying CA/1 (committed) and a new batch: only the new one is written.
	tx2 := build(t, "TX", 2, vote("TX", 7, "bob"))
	retry := ledgertest.CommitBatches("t3", []ballot.Batch{ca1, tx2}, nil)
	written := ledgertest.CommitBatches("t3", []ballot.Batch{tx2}, nil)
	retry.Writes, retry.Event = written.Writes, written.Event
	reports = auditChain(t, [][]ledgertest.Tx{genesis(t, "CA", "TX"), {commitTx(t, "t1", ca1)}, {retry}})
	if ks := kinds(reports); len(ks) != 0 {
		t.Fatalf("partial retry flagged: %v", ks)
	}
	if r := reports[2].Batches; len(r) != 2 || !r[0].Resubmission || r[1].Resubmission {
		t.Fatalf("partial retry: %+v", r)
	}

	wrongEvent := ledgertest.CommitBatches("t2", []ballot.Batch{ca2, tx1}, []map[int]string{{1: ballot.RejectDuplicate}, nil})
	wrongEvent.Event = ledgertest.CommitBatches("t2", []ballot.Batch{ca2, tx1}, nil).Event // CA/2's duplicate counted
	missing := ledgertest.CommitBatches("t2", []ballot.Batch{ca2, tx1}, []map[int]string{{1: ballot.RejectDuplicate}, nil})
	missing.Event = ledgertest.CommitBatches("t2", []ballot.Batch{ca2}, []map[int]string{{1: ballot.RejectDuplicate}}).Event
	twice := ledgertest.CommitBatches("t2", []ballot.Batch{ca2, ca2}, nil)
	undecodable := ledgertest.CommitBatches("t2", []ballot.Batch{ca2, tx1}, []map[int]string{{1: ballot.RejectDuplicate}, nil})
	undecodable.Event = &fabricblock.Event{Name: ballot.EventBatchesCommitted, Payload: []byte(`[{"state":`)}
	for name, c := range map[string]struct {
		tx   ledgertest.Tx
		want string
	}{
		"event differs":     {wrongEvent, audit.KindBatchEvent},
		"event lacks one":   {missing, audit.KindBatchEvent},
		"state twice":       {twice, audit.KindBatchDecode},
		"event undecodable": {undecodable, audit.KindBatchEvent},
	} {
		ks := kinds(auditChain(t, [][]ledgertest.Tx{genesis(t, "CA", "TX"), {commitTx(t, "t1", ca1)}, {c.tx}}))
		if !slices.Contains(ks, c.want) {
			t.Errorf("%s: issues %v; want %q", name, ks, c.want)
		}
	}
	// The event is decoded once for the transaction's batches, and each
	// batch is flagged.
	reports = auditChain(t, [][]ledgertest.Tx{genesis(t, "CA", "TX"), {commitTx(t, "t1", ca1)}, {undecodable}})
	var flagged []string
	for _, is := range reports[2].Issues {
		if is.Kind == audit.KindBatchEvent {
			flagged = append(flagged, is.Message)
		}
	}
	if len(flagged) != 2 {
		t.Errorf("undecodable event of 2 batches: flagged %q; want each batch", flagged)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
