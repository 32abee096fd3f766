package ballot

import (
	"errors"
	"fmt"
)

// Receipt statuses.
const (
	ReceiptPending   = "pending"   // accepted, not yet on the ledger
	ReceiptCounted   = "counted"   // on the ledger and counted
	ReceiptDuplicate = "duplicate" // on the ledger, rejected as a duplicate nullifier
	ReceiptRejected  = "rejected"  // on the ledger, rejected for another reason (Receipt.Reason)
)

// Receipt lets a voter (or anyone holding it) check that a vote is in a
// committed batch: the vote's leaf, its audit path and the batch root, which
// the ledger's BatchRecord confirms.
type Receipt struct {
	VoteID string   `json:"vote_id"`
	State  string   `json:"state"`
	Seq    uint64   `json:"seq"`
	Index  int      `json:"index"` // leaf index in the batch
	Size   int      `json:"size"`  // votes in the batch
	Leaf   string   `json:"leaf"`  // hex leaf hash
	Root   string   `json:"root"`  // hex batch root
	Proof  []string `json:"proof"` // hex audit path, leaf side first
	TxID   string   `json:"tx_id"`
	Block  uint64   `json:"block"`
	Status string   `json:"status"`
	Reason string   `json:"reason,omitempty"` // why the ledger rejected the vote (Reject* constants); "" unless duplicate or rejected
	// Vote is the vote itself, as the ledger holds it, so its holder can
	// recompute the leaf (VerifyVote); absent while pending.
	Vote *Vote `json:"vote,omitempty"`
}

// ErrNoVote means a receipt carries no vote to verify.
var ErrNoVote = errors.New("ballot: receipt carries no vote")

// VerifyVote is Verify with the vote the receipt carries.
func (r Receipt) VerifyVote() error {
	if r.Vote == nil {
		return ErrNoVote
	}
	return r.Verify(*r.Vote)
}

// Receipts returns the receipts of every vote of the batch, in order, with
// status pending and no transaction yet. It builds the tree once.
func (b Batch) Receipts() ([]Receipt, error) {
	leaves, err := Leaves(b.Votes)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", b.ID(), err)
	}
	tree := NewTree(leaves)
	root := HashHex(tree.Root())
	receipts := make([]Receipt, len(b.Votes))
	for i, v := range b.Votes {
		proof, _ := tree.Proof(i) // i is in range
		receipts[i] = Receipt{VoteID: v.ID, State: b.State, Seq: b.Seq, Index: i, Size: len(leaves),
			Leaf: HashHex(leaves[i]), Root: root, Proof: hexHashes(proof), Status: ReceiptPending}
	}
	return receipts, nil
}

func hexHashes(hs [][32]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = HashHex(h)
	}
	return out
}

// Verify checks that the receipt is for v and that its proof leads from v's
// leaf to the receipt's root. It does not check that the root is on the
// ledger: compare r.Root with the BatchRecord of (r.State, r.Seq) for that.
func (r Receipt) Verify(v Vote) error {
	if v.ID != r.VoteID || v.State != r.State {
		return fmt.Errorf("ballot: receipt is for vote %s of %s, not vote %s of %s", r.VoteID, r.State, v.ID, v.State)
	}
	leaf, err := v.Leaf()
	if err != nil {
		return err
	}
	if HashHex(leaf) != r.Leaf {
		return fmt.Errorf("ballot: receipt leaf %s is not the leaf %x of vote %s", truncate(r.Leaf), leaf, v.ID)
	}
	root, err := ParseHash(r.Root)
	if err != nil {
		return fmt.Errorf("receipt root: %w", err)
	}
	proof := make([][32]byte, len(r.Proof))
	for i, p := range r.Proof {
		if proof[i], err = ParseHash(p); err != nil {
			return fmt.Errorf("receipt proof hash %d: %w", i, err)
		}
	}
	return VerifyInclusion(leaf, r.Index, r.Size, proof, root)
}
