package ballot_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Example follows one batch from the batcher to an auditor: build the
// batch, cut its receipts, let the ledger record it, then check every
// receipt the way the verify command and the explorer do.
func Example() {
	// The ballot asks two things: a race and a yes/no question.
	election := &ballot.Election{
		Contests: []ballot.Contest{
			{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob"}},
			{ID: "L2025-001", Title: "Law 2025-001", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
		},
		OpensAt: time.UnixMilli(1_767_225_000_000), ClosesAt: time.UnixMilli(1_767_226_000_000)}

	// A voter has one nullifier per contest, derived from their voter key.
	secret := []byte("the election secret, 16+ bytes")
	nullifier := func(voter, contest string) string {
		return ballot.HashHex(ballot.NullifierOf(ballot.VoterKey(secret, "E-2026", voter, "credential-of-"+voter), contest))
	}
	// Four votes of California: Ann votes in both contests, Bob for
	// president, then Ann for president again (the same nullifier).
	votes := []ballot.Vote{
		{ID: "00000000000000000000000000000001", State: "CA", Contest: "president", Nullifier: nullifier("ann", "president"), Choice: "alice", CastAt: 1_767_225_600_000},
		{ID: "00000000000000000000000000000002", State: "CA", Contest: "L2025-001", Nullifier: nullifier("ann", "L2025-001"), Choice: "yes", CastAt: 1_767_225_600_001},
		{ID: "00000000000000000000000000000003", State: "CA", Contest: "president", Nullifier: nullifier("bob", "president"), Choice: "bob", CastAt: 1_767_225_600_002},
		{ID: "00000000000000000000000000000004", State: "CA", Contest: "president", Nullifier: nullifier("ann", "president"), Choice: "bob", CastAt: 1_767_225_600_003},
	}

	// The batcher builds batch CA/1: its Merkle root and tallies come from
	// the votes, and each vote's receipt holds its leaf and audit path.
	batch, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		fmt.Println(err)
		return
	}
	receipts, err := batch.Receipts()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("before the commit:", receipts[0].Status)

	// The chaincode counts the batch against the election at the
	// transaction's time (no nullifier is on the ledger yet) and records it
	// in transaction "tx-1" of block 7. Ann's vote on the question counts
	// beside her vote for president; her second vote for president reuses
	// that contest's nullifier and is rejected as a duplicate.
	txTime := time.UnixMilli(1_767_225_601_000)
	nothingOnTheLedger := func(ballot.Vote) (bool, error) { return false, nil }
	record, err := batch.Count(election, txTime, nil, nothingOnTheLedger, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	record.TxID = "tx-1"
	fmt.Println("counted:", record.Counted, "rejected:", record.Rejected, record.Reasons)
	for _, c := range election.ContestIDs() {
		fmt.Println(" ", c, record.Tallies[c])
	}

	// Each voter's receipt names the transaction and block, and says
	// whether the vote counted; it carries the vote so anyone can recompute
	// the leaf.
	for i, r := range receipts {
		r = r.Committed(record, 7)
		r.Vote = &batch.Votes[i]
		// An auditor reads the record of (r.State, r.Seq) from the ledger
		// and checks the receipt against it.
		fmt.Printf("vote %d (%s): %s, audit error: %v\n", r.Index, r.Vote.Contest, r.Status, r.Audit(record))
	}
	// Output:
	// before the commit: pending
	// counted: 3 rejected: [3] [duplicate]
	//   president map[alice:1 bob:1]
	//   L2025-001 map[yes:1]
	// vote 0 (president): counted, audit error: <nil>
	// vote 1 (L2025-001): counted, audit error: <nil>
	// vote 2 (president): counted, audit error: <nil>
	// vote 3 (president): duplicate, audit error: <nil>
}

// ExampleElection_Refusal shows the reasons the election gives before the
// ledger is asked about nullifiers: a contest not on the ballot, a choice
// not of the vote's contest, a time outside the window.
func ExampleElection_Refusal() {
	election := &ballot.Election{
		Contests: []ballot.Contest{
			{ID: "L2025-001", Title: "Law 2025-001", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
			{ID: "L2025-002", Title: "Law 2025-002", Kind: ballot.ContestQuestion, Choices: []string{"oui", "non"}},
		},
		OpensAt: time.UnixMilli(1_000), ClosesAt: time.UnixMilli(2_000)}
	txTime := time.UnixMilli(1_500)
	for _, v := range []ballot.Vote{
		{Contest: "L2025-001", Choice: "yes", CastAt: 1_200},
		{Contest: "L2025-003", Choice: "yes", CastAt: 1_200},
		{Contest: "L2025-002", Choice: "yes", CastAt: 1_200},
		{Contest: "L2025-002", Choice: "non", CastAt: 2_000},
	} {
		fmt.Printf("%s/%s: %q\n", v.Contest, v.Choice, election.Refusal(v, txTime))
	}
	_, sole := election.SoleContest()
	fmt.Println("a vote may omit its contest:", sole)
	// Output:
	// L2025-001/yes: ""
	// L2025-003/yes: "unknown_contest"
	// L2025-002/yes: "unknown_choice"
	// L2025-002/non: "outside_window"
	// a vote may omit its contest: false
}

// ExampleReceipt_Audit shows what an audit catches: a receipt whose vote
// was changed, whose proof leads elsewhere, or that claims a status, batch
// or transaction the ledger's record does not.
func ExampleReceipt_Audit() {
	votes := []ballot.Vote{
		{ID: "0000000000000000000000000000000a", State: "NY", Contest: "mayor", Nullifier: "0a" + zeros62, Choice: "alice", CastAt: 1},
		{ID: "0000000000000000000000000000000b", State: "NY", Contest: "mayor", Nullifier: "0b" + zeros62, Choice: "bob", CastAt: 2},
	}
	batch, _ := ballot.BuildBatch("NY", 4, votes)
	receipts, _ := batch.Receipts()
	record := ballot.BatchRecord{State: "NY", Seq: 4, Root: batch.Root, Votes: 2, Counted: 2,
		Tallies: ballot.Tally{"mayor": {"alice": 1, "bob": 1}}, Rejected: []int{}, TxID: "tx-9"}
	good := receipts[1].Committed(record, 12)
	good.Vote = &batch.Votes[1]
	fmt.Println("as issued:", good.Audit(record))

	changed := good
	changed.Vote = &ballot.Vote{ID: good.VoteID, State: "NY", Contest: "mayor", Nullifier: votes[1].Nullifier, Choice: "alice", CastAt: 2}
	fmt.Println("vote changed:", changed.Audit(record) != nil)

	claimed := good
	claimed.Status = ballot.ReceiptDuplicate
	fmt.Println("status claimed:", claimed.Audit(record))

	otherTx := good
	otherTx.TxID = "tx-8"
	fmt.Println("transaction claimed:", otherTx.Audit(record))

	rewritten := record
	rewritten.Root = receipts[0].Leaf
	fmt.Println("root not on the ledger:", good.Audit(rewritten) != nil)
	// Output:
	// as issued: <nil>
	// vote changed: true
	// status claimed: receipt says duplicate; the ledger says counted
	// transaction claimed: receipt names transaction tx-8; the ledger's batch NY/4 came in tx-9
	// root not on the ledger: true
}

// ExampleTreeHead_Extends follows a state's intake log as it grows: the
// log signer signs tree heads of it, anyone with the registered key
// verifies them, and a consistency proof shows that a later head's log
// extends an earlier one's, which a log rewritten under the earlier head,
// or one that shrank, cannot show.
func ExampleTreeHead_Extends() {
	// The signer's key, registered on the ledger (RegisterLogKeys).
	signer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	keys, _, err := ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(signer.Public().(ed25519.PublicKey))}, 1_767_225_000_000)
	if err != nil {
		fmt.Println(err)
		return
	}

	// California's log: each accepted vote appends its leaf (Vote.Leaf).
	// The voter of vote i chooses choice.
	vote := func(i int, choice string) ballot.Vote {
		return ballot.Vote{ID: fmt.Sprintf("%032x", i+1), State: "CA", Contest: "president",
			Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i)}, "president")), Choice: choice, CastAt: 1_767_225_600_000 + int64(i)}
	}
	grow := func(log *ballot.LogTree, from, to int, choice func(i int) string) {
		for i := from; i < to; i++ {
			leaf, err := vote(i, choice(i)).Leaf()
			if err != nil {
				panic(err)
			}
			log.Append(leaf)
		}
	}
	// head signs the head of log's first size entries, stamped at (Unix ms).
	head := func(log *ballot.LogTree, size uint64, at int64) ballot.TreeHead {
		root, err := log.Root(size)
		if err != nil {
			panic(err)
		}
		h, err := ballot.TreeHead{Election: "E-2026", State: "CA", Size: size, Root: ballot.HashHex(root), Timestamp: at}.Sign(signer)
		if err != nil {
			panic(err)
		}
		return h
	}
	alice := func(int) string { return "alice" }

	var log ballot.LogTree
	grow(&log, 0, 3, alice)
	h3 := head(&log, 3, 1_767_225_601_000)
	grow(&log, 3, 7, alice)
	h7 := head(&log, 7, 1_767_225_602_000)
	fmt.Println("head of 3 verifies:", h3.Verify(keys))
	fmt.Println("head of 7 verifies:", h7.Verify(keys))

	// A head whose size was changed after signing no longer verifies.
	altered := h7
	altered.Size = 8
	fmt.Println("altered head:", errors.Is(altered.Verify(keys), ballot.ErrBadSignature))

	// The log of 7 extends the log of 3: the proof leads from the one root
	// to the other.
	proof, err := log.ConsistencyProof(3, 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("7 extends 3:", h7.Extends(h3, proof))

	// A log whose second vote was changed after the head of 3 was signed
	// gets a head of 7 signed just as well, but no proof that it extends
	// the head of 3; nor does a log extend a larger one.
	var rewritten ballot.LogTree
	bobForVote1 := func(i int) string {
		if i == 1 {
			return "bob"
		}
		return "alice"
	}
	grow(&rewritten, 0, 7, bobForVote1)
	r7 := head(&rewritten, 7, 1_767_225_602_000)
	rproof, err := rewritten.ConsistencyProof(3, 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rewritten head verifies:", r7.Verify(keys))
	fmt.Println("rewritten 7 extends 3:", r7.Extends(h3, rproof))
	fmt.Println("3 extends 7:", h3.Extends(h7, nil))
	// Output:
	// head of 3 verifies: <nil>
	// head of 7 verifies: <nil>
	// altered head: true
	// 7 extends 3: <nil>
	// rewritten head verifies: <nil>
	// rewritten 7 extends 3: CA log of size 7 does not extend the one of size 3: ballot: consistency proof does not match the two roots: from 3 to 7
	// 3 extends 7: CA log of size 3 does not extend the one of size 7: ballot: a log cannot shrink: from 7 to 3
}

const zeros62 = "00000000000000000000000000000000000000000000000000000000000000"

// ExampleBatchIDs names one batch, then several, by their ids, as the
// chaincode's and the Fabric client's messages do.
func ExampleBatchIDs() {
	ca, tx := ballot.Batch{State: "CA", Seq: 3}, ballot.Batch{State: "TX", Seq: 5}
	fmt.Println(ballot.BatchIDs([]ballot.Batch{ca}))
	fmt.Println(ballot.BatchIDs([]ballot.Batch{ca, tx}))
	// Output:
	// batch CA/3
	// batches CA/3, TX/5
}
