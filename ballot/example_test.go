package ballot_test

import (
	"fmt"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Example follows one batch from the batcher to an auditor: build the
// batch, cut its receipts, let the ledger record it, then check every
// receipt the way the verify command and the explorer do.
func Example() {
	// Three votes of California. The third voter's credential derives the
	// same nullifier as the first's: the same voter voting twice.
	secret := []byte("the election secret, 16+ bytes")
	nullifier := func(voter string) string {
		return ballot.HashHex(ballot.NullifierOf(ballot.VoterKey(secret, "E-2026", voter, "credential-of-"+voter)))
	}
	votes := []ballot.Vote{
		{ID: "00000000000000000000000000000001", State: "CA", Nullifier: nullifier("ann"), Candidate: "alice", CastAt: 1_767_225_600_000},
		{ID: "00000000000000000000000000000002", State: "CA", Nullifier: nullifier("bob"), Candidate: "bob", CastAt: 1_767_225_600_001},
		{ID: "00000000000000000000000000000003", State: "CA", Nullifier: nullifier("ann"), Candidate: "bob", CastAt: 1_767_225_600_002},
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
	// in transaction "tx-1" of block 7. Ann's second vote reuses her
	// nullifier: it is rejected as a duplicate.
	election := &ballot.Election{Candidates: []string{"alice", "bob"},
		OpensAt: time.UnixMilli(1_767_225_000_000), ClosesAt: time.UnixMilli(1_767_226_000_000)}
	txTime := time.UnixMilli(1_767_225_601_000)
	nothingOnTheLedger := func(ballot.Vote) (bool, error) { return false, nil }
	record, err := batch.Count(election, txTime, nil, nothingOnTheLedger, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	record.TxID = "tx-1"
	fmt.Println("counted:", record.Counted, record.Tallies, "rejected:", record.Rejected, record.Reasons)

	// Each voter's receipt names the transaction and block, and says
	// whether the vote counted; it carries the vote so anyone can recompute
	// the leaf.
	for i, r := range receipts {
		r = r.Committed(record, 7)
		r.Vote = &batch.Votes[i]
		// An auditor reads the record of (r.State, r.Seq) from the ledger
		// and checks the receipt against it.
		fmt.Printf("vote %d: %s, audit error: %v\n", r.Index, r.Status, r.Audit(record))
	}
	// Output:
	// before the commit: pending
	// counted: 2 map[alice:1 bob:1] rejected: [2] [duplicate]
	// vote 0: counted, audit error: <nil>
	// vote 1: counted, audit error: <nil>
	// vote 2: duplicate, audit error: <nil>
}

// ExampleReceipt_Audit shows what an audit catches: a receipt whose vote
// was changed, whose proof leads elsewhere, or that claims a status, batch
// or transaction the ledger's record does not.
func ExampleReceipt_Audit() {
	votes := []ballot.Vote{
		{ID: "0000000000000000000000000000000a", State: "NY", Nullifier: "0a" + zeros62, Candidate: "alice", CastAt: 1},
		{ID: "0000000000000000000000000000000b", State: "NY", Nullifier: "0b" + zeros62, Candidate: "bob", CastAt: 2},
	}
	batch, _ := ballot.BuildBatch("NY", 4, votes)
	receipts, _ := batch.Receipts()
	record := ballot.BatchRecord{State: "NY", Seq: 4, Root: batch.Root, Votes: 2, Counted: 2,
		Tallies: ballot.Tally{"alice": 1, "bob": 1}, Rejected: []int{}, TxID: "tx-9"}
	good := receipts[1].Committed(record, 12)
	good.Vote = &batch.Votes[1]
	fmt.Println("as issued:", good.Audit(record))

	changed := good
	changed.Vote = &ballot.Vote{ID: good.VoteID, State: "NY", Nullifier: votes[1].Nullifier, Candidate: "alice", CastAt: 2}
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

const zeros62 = "00000000000000000000000000000000000000000000000000000000000000"
