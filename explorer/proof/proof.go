// Package proof checks voters' receipts against the explorer's audited
// index and lays out the Merkle audit path for display: each step from the
// vote's leaf up to the batch root. The verdict comes from the shared ballot
// package; this package only explains it.
package proof

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/votechain/votechain/ballot"
)

// Committed is what the index knows of a committed batch, checked against
// the ledger's own record when it was indexed.
type Committed struct {
	State    string
	Seq      uint64
	Root     string
	Votes    int
	TxID     string
	Block    uint64
	Rejected []int
}

// status returns the receipt status of vote index i of the batch.
func (c Committed) status(i int) string {
	if slices.Contains(c.Rejected, i) {
		return ballot.ReceiptDuplicate
	}
	return ballot.ReceiptCounted
}

// Receipt builds the receipt of vote i of a committed batch from the
// batch's votes, as the gateway would have issued it.
func Receipt(c Committed, votes []ballot.Vote, i int) (ballot.Receipt, error) {
	b := ballot.Batch{State: c.State, Seq: c.Seq, Votes: votes}
	all, err := b.Receipts()
	if err != nil {
		return ballot.Receipt{}, err
	}
	if i < 0 || i >= len(all) {
		return ballot.Receipt{}, fmt.Errorf("vote index %d outside batch %s of %d votes", i, b.ID(), len(all))
	}
	r := all[i]
	v := votes[i]
	r.TxID, r.Block, r.Status, r.Vote = c.TxID, c.Block, c.status(i), &v
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

// Result is the verdict on a receipt.
type Result struct {
	Pass     bool     `json:"pass"`
	Problems []string `json:"problems,omitempty"` // why it fails, first the Merkle check
	Leaf     string   `json:"leaf,omitempty"`     // leaf recomputed from the vote
	Steps    []Step   `json:"steps"`              // the path as walked from the receipt's leaf
	Computed string   `json:"computed_root,omitempty"`
	Ledger   string   `json:"ledger_root,omitempty"` // root of the batch as committed
}

// Check verifies receipt r: its vote (the receipt's own, else vote) leads
// through the proof to the root, and that root, size, transaction and status
// are those of the committed batch c (nil if the index has no such batch).
func Check(r ballot.Receipt, vote *ballot.Vote, c *Committed) Result {
	res := Result{}
	if r.Vote != nil {
		vote = r.Vote
	}
	problem := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }
	if vote == nil {
		problem("the receipt carries no vote and the index has no vote %q", r.VoteID)
	} else {
		if leaf, err := vote.Leaf(); err == nil {
			res.Leaf = ballot.HashHex(leaf)
		}
		if err := r.Verify(*vote); err != nil {
			problem("%v", err)
		}
	}
	res.Steps, res.Computed = walk(r)
	if c == nil {
		problem("no committed batch %s/%d in the index", r.State, r.Seq)
	} else {
		res.Ledger = c.Root
		switch {
		case c.Root != r.Root:
			problem("receipt root %s is not the committed root %s of batch %s/%d", r.Root, c.Root, c.State, c.Seq)
		case c.Votes != r.Size:
			problem("receipt says the batch has %d votes; the ledger says %d", r.Size, c.Votes)
		case c.TxID != r.TxID:
			problem("receipt names transaction %s; the batch was committed in %s", r.TxID, c.TxID)
		case r.Index >= 0 && c.status(r.Index) != r.Status:
			problem("receipt says %q; the ledger says %q", r.Status, c.status(r.Index))
		}
	}
	res.Pass = len(res.Problems) == 0
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
