// Package proof checks voters' receipts against the explorer's audited
// index and lays out the Merkle audit path for display: each step from the
// vote's leaf up to the batch root. The verdict comes from ballot's audit
// rules (Receipt.Verify, Receipt.CheckRecord); this package only explains it.
package proof

import (
	"fmt"
	"math/bits"

	"github.com/votechain/votechain/ballot"
)

// Receipt builds the receipt of vote i of a committed batch from the
// batch's votes and its record, as the gateway would have issued it.
func Receipt(rec ballot.BatchRecord, block uint64, votes []ballot.Vote, i int) (ballot.Receipt, error) {
	b := ballot.Batch{State: rec.State, Seq: rec.Seq, Votes: votes}
	all, err := b.Receipts()
	if err != nil {
		return ballot.Receipt{}, err
	}
	if i < 0 || i >= len(all) {
		return ballot.Receipt{}, fmt.Errorf("vote index %d outside batch %s of %d votes", i, b.ID(), len(all))
	}
	r := all[i].Committed(rec, block)
	r.Vote = &votes[i]
	return r, nil
}

// Step is one level of an audit path: the node on the path, its sibling
// from the proof, and their parent.
type Step struct {
	Node    string `json:"node"`    // hash on the path at this level
	Sibling string `json:"sibling"` // proof hash
	Left    bool   `json:"left"`    // the sibling is the left child
	Parent  string `json:"parent"`  // hash of the two children
}

// Verdicts of Check. NotIndexed is no verdict on the receipt: its batch is
// not in the index, which has not yet reached the block the receipt names.
const (
	VerdictPass       = "pass"
	VerdictFail       = "fail"
	VerdictNotIndexed = "not_yet_indexed"
)

// Verdicts lists every verdict Check gives. Each call returns a new slice,
// so no caller can change the list for the others.
func Verdicts() []string {
	return []string{VerdictPass, VerdictFail, VerdictNotIndexed}
}

// Result is the verdict on a receipt.
type Result struct {
	Verdict  string   `json:"verdict"`            // one of Verdicts
	Pass     bool     `json:"pass"`               // Verdict is VerdictPass
	Problems []string `json:"problems,omitempty"` // why it fails, first the Merkle check
	// Pending says why there is no verdict yet (VerdictNotIndexed).
	Pending string `json:"pending,omitempty"`
	// IndexHeight is the number of blocks the index held when checked.
	IndexHeight uint64 `json:"index_height"`
	Leaf        string `json:"leaf,omitempty"` // leaf recomputed from the vote
	Steps       []Step `json:"steps"`          // the path as walked from the receipt's leaf
	Computed    string `json:"computed_root,omitempty"`
	Ledger      string `json:"ledger_root,omitempty"` // root of the batch as committed
}

// Batch is a committed batch as the explorer's index holds it: its record
// (the explorer's recount) and what the audit found when it indexed it.
type Batch struct {
	Record ballot.BatchRecord
	// RootOK reports that the votes the transaction carried give the root
	// it claims: else a proof reaching that root does not show which vote
	// is at an index.
	RootOK bool
	// RecordOK reports that the ledger's record and event of the batch
	// equal the recount: else the receipt cannot be checked against the
	// ledger's record.
	RecordOK bool
}

// Check verifies receipt r with ballot's audit rules: its vote (the
// receipt's own, else vote) leads through the proof to the root
// (Receipt.Verify), and that root, size, transaction and status are those of
// the committed batch b's record (Receipt.CheckRecord; b is nil if the
// index has no such batch), which the audit found to agree with its
// transaction (b.RootOK) and with the ledger's record and event
// (b.RecordOK): a batch the audit flagged fails every receipt of it, a
// problem naming what the audit found. height is the index's height (the
// blocks it held, read before b): a batch missing from an index that has
// not reached the receipt's block (height <= r.Block) gives
// VerdictNotIndexed, unless the receipt's own vote and proof already fail
// it; once the index holds that block, a missing batch fails the receipt.
func Check(r ballot.Receipt, vote *ballot.Vote, b *Batch, height uint64) Result {
	res := Result{IndexHeight: height}
	if r.Vote != nil {
		vote = r.Vote
	}
	res.Steps, res.Computed = walk(r)
	problem := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }
	switch {
	case vote == nil && b == nil && height <= r.Block:
		// The index's vote comes with the batch's block.
	case vote == nil:
		problem("the receipt carries no vote and the index has no vote %q", r.VoteID)
	default:
		if leaf, err := vote.Leaf(); err == nil {
			res.Leaf = ballot.HashHex(leaf)
		}
		if err := r.Verify(*vote); err != nil {
			problem("%v", err)
		}
	}
	switch {
	case b == nil && height <= r.Block && len(res.Problems) == 0:
		res.Verdict = VerdictNotIndexed
		res.Pending = fmt.Sprintf("batch %s/%d is not in the index yet: the index is at height %d and has not reached the receipt's block %d; try again shortly",
			r.State, r.Seq, height, r.Block)
		return res
	case b == nil:
		problem("no committed batch %s/%d in the index (index height %d, the receipt's block %d)", r.State, r.Seq, height, r.Block)
	default:
		res.Ledger = b.Record.Root
		if err := r.CheckRecord(b.Record); err != nil {
			problem("%v", err)
		}
		if !b.RootOK {
			problem("the audit found that the votes transaction %s carries for batch %s/%d do not give the root %s it claims: a proof reaching that root does not show which vote is at index %d (see the batch's page)",
				b.Record.TxID, r.State, r.Seq, b.Record.Root, r.Index)
		}
		if !b.RecordOK {
			problem("the audit found that the ledger's record or event of batch %s/%d differs from the recount of transaction %s: the receipt cannot be checked against the ledger's record (see the batch's page)",
				r.State, r.Seq, b.Record.TxID)
		}
	}
	res.Pass = len(res.Problems) == 0
	res.Verdict = VerdictFail
	if res.Pass {
		res.Verdict = VerdictPass
	}
	return res
}

// walk lays out the receipt's proof from its leaf, as RFC 9162's inclusion
// verification walks it, and returns the steps and the root reached. Hashes
// that do not parse end the walk.
func walk(r ballot.Receipt) ([]Step, string) {
	node, err := ballot.ParseHash(r.Leaf)
	if err != nil || r.Index < 0 || r.Index >= r.Size {
		return nil, ""
	}
	// Below level inner the path runs inside the complete subtree holding
	// both the leaf and the tree's last leaf; above it, every sibling is a
	// left one.
	inner := bits.Len(uint(r.Index) ^ uint(r.Size-1))
	steps := make([]Step, 0, len(r.Proof))
	for i, p := range r.Proof {
		sib, err := ballot.ParseHash(p)
		if err != nil {
			break
		}
		left := i >= inner || (r.Index>>i)&1 == 1
		pair := [][32]byte{node, sib}
		if left {
			pair = [][32]byte{sib, node}
		}
		parent := ballot.MerkleRoot(pair) // the root of two leaves is their node hash
		steps = append(steps, Step{Node: ballot.HashHex(node), Sibling: p, Left: left, Parent: ballot.HashHex(parent)})
		node = parent
	}
	return steps, ballot.HashHex(node)
}
