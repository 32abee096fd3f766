// Package receipt answers a voter's question "is my vote on the ledger?" with
// a receipt: the vote's batch, leaf index, Merkle inclusion proof and the
// on-chain root, plus the transaction, block and status. Where the vote
// landed comes from the batcher's Redis record, but the proof is always built
// from the batch as the ledger's VALID transaction carries it and the status
// from the ledger's record of the batch, and every receipt passes ballot's
// audit (Receipt.Audit) before it is served, so Redis is never trusted for
// anything a voter verifies.
package receipt

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// Ledger reads committed batches, their records and nullifiers:
// *fabricclient.Ballot.
type Ledger interface {
	CommittedBatch(ctx context.Context, txID, state string, seq uint64) (ballot.Batch, error)
	Batch(ctx context.Context, state string, seq uint64) (ballot.BatchRecord, error)
	LocateNullifier(ctx context.Context, state, nullifier string) (ballot.NullifierRecord, error)
}

// Store is the Redis side: where the batcher recorded a vote, the pending
// vote of a nullifier (its id until the vote is on the ledger), and the
// state of a voter on the roll.
type Store interface {
	Location(ctx context.Context, voteID string) (votequeue.Location, error) // votequeue.ErrPending if none
	Claim(ctx context.Context, state, nullifier string) (voteID string, err error)
	RollState(ctx context.Context, nullifier string) (state string, err error)
}

// ErrNoVote means there is no vote to show: an unknown vote id, or voter
// credentials that are wrong or have not voted (indistinguishable on purpose).
var ErrNoVote = errors.New("no vote found")

// Service builds receipts. Built batch trees are kept in a small LRU, so the
// receipts of one batch (hundreds of voters) cost two ledger reads: the
// transaction's batch and the batch's record.
type Service struct {
	ledger     Ledger
	store      Store
	secret     []byte
	electionID string

	mu    sync.Mutex
	lru   *list.List // of *batchEntry, most recent first
	byTx  map[batchKey]*list.Element
	limit int
}

// batchKey names a batch in the transaction that carried it (a transaction
// may carry the batches of several states).
type batchKey struct {
	txID  string
	state string
	seq   uint64
}

type batchEntry struct {
	key    batchKey
	batch  ballot.Batch
	record ballot.BatchRecord
	tree   *ballot.Tree
}

// New returns a service for the election electionID (whose voters' keys
// secret derives) keeping the trees of up to cached batches.
func New(ledger Ledger, store Store, secret []byte, electionID string, cached int) *Service {
	return &Service{ledger: ledger, store: store, secret: secret, electionID: electionID, lru: list.New(), byTx: map[batchKey]*list.Element{}, limit: max(cached, 1)}
}

// ByVoteID returns the receipt of a vote: pending (accepted, not yet on the
// ledger, or unknown to the batcher yet) or counted/duplicate with its proof.
// An id that is not a well-formed vote id must be refused by the caller.
func (s *Service) ByVoteID(ctx context.Context, voteID string) (ballot.Receipt, error) {
	loc, err := s.store.Location(ctx, voteID)
	if errors.Is(err, votequeue.ErrPending) {
		return ballot.Receipt{VoteID: voteID, Status: ballot.ReceiptPending}, nil
	}
	if err != nil {
		return ballot.Receipt{}, err
	}
	return s.committed(ctx, voteID, loc)
}

// ByCredentials returns the receipt of the voter's own vote in contest, or
// ErrNoVote for credentials that are not on the roll of the contest or that
// have not voted in it.
func (s *Service) ByCredentials(ctx context.Context, voterID, credential, contest string) (ballot.Receipt, error) {
	null := ballot.HashHex(ballot.NullifierOf(ballot.VoterKey(s.secret, s.electionID, voterID, credential), contest))
	state, err := s.store.RollState(ctx, null)
	if err != nil {
		return ballot.Receipt{}, err
	}
	if state == "" {
		return ballot.Receipt{}, ErrNoVote
	}
	rec, err := s.ledger.LocateNullifier(ctx, state, null)
	switch {
	case err == nil:
		return s.ByVoteID(ctx, rec.VoteID)
	case !errors.Is(err, ballot.ErrNotFound):
		return ballot.Receipt{}, err
	}
	voteID, err := s.store.Claim(ctx, state, null)
	if err != nil {
		return ballot.Receipt{}, err
	}
	if voteID == "" {
		return ballot.Receipt{}, ErrNoVote
	}
	return ballot.Receipt{VoteID: voteID, State: state, Status: ballot.ReceiptPending}, nil
}

// committed builds the receipt of a vote the batcher recorded at loc. Its
// errors do not name the vote, nor its index in its batch: the gateway
// logs them with the request's id, which its access log ties to the
// client's address. Those of ballot that would (a malformed vote's, a
// proof's) are given in fixed texts; the ledger's are as it gave them.
func (s *Service) committed(ctx context.Context, voteID string, loc votequeue.Location) (ballot.Receipt, error) {
	e, err := s.batch(ctx, batchKey{loc.TxID, loc.State, loc.Seq})
	if err != nil {
		return ballot.Receipt{}, err
	}
	if loc.Index < 0 || loc.Index >= len(e.batch.Votes) || e.batch.Votes[loc.Index].ID != voteID {
		return ballot.Receipt{}, fmt.Errorf("a vote's receipt record does not match transaction %s (batch %s/%d)", loc.TxID, loc.State, loc.Seq)
	}
	leaf, err := e.batch.Votes[loc.Index].Leaf()
	if err != nil { // not of a batch that verified
		return ballot.Receipt{}, fmt.Errorf("a vote of transaction %s (batch %s/%d) is malformed", loc.TxID, loc.State, loc.Seq)
	}
	proof, err := e.tree.Proof(loc.Index)
	if err != nil { // not for an index in the batch
		return ballot.Receipt{}, fmt.Errorf("no inclusion proof of a vote of transaction %s (batch %s/%d)", loc.TxID, loc.State, loc.Seq)
	}
	r := ballot.Receipt{
		VoteID: voteID, State: e.batch.State, Seq: e.batch.Seq, Index: loc.Index, Size: e.tree.Size(),
		Leaf: ballot.HashHex(leaf), Root: ballot.HashHex(e.tree.Root()), Proof: make([]string, len(proof)),
		Vote: &e.batch.Votes[loc.Index],
	}
	for i, h := range proof {
		r.Proof[i] = ballot.HashHex(h)
	}
	r = r.Committed(e.record, loc.Block)
	if err := r.Audit(e.record); err != nil {
		if r.VerifyVote() != nil { // its error names the vote, its leaf and index
			err = errors.New("its proof does not verify")
		}
		return ballot.Receipt{}, fmt.Errorf("a vote's receipt fails the audit against the ledger: %w", err)
	}
	return r, nil
}

// batch returns a batch as the ledger's transaction carried it, its record
// and its tree, cached.
func (s *Service) batch(ctx context.Context, k batchKey) (*batchEntry, error) {
	s.mu.Lock()
	if el, ok := s.byTx[k]; ok {
		s.lru.MoveToFront(el)
		s.mu.Unlock()
		return el.Value.(*batchEntry), nil
	}
	s.mu.Unlock()

	b, err := s.ledger.CommittedBatch(ctx, k.txID, k.state, k.seq)
	if err != nil {
		return nil, err
	}
	leaves, err := b.Verify()
	if err != nil {
		if !errors.Is(err, ballot.ErrBatchRoot) && !errors.Is(err, ballot.ErrBatchTally) {
			err = errors.New("a vote is malformed") // its error names it: it may be the caller's
		}
		return nil, fmt.Errorf("batch in transaction %s: %w", k.txID, err)
	}
	rec, err := s.ledger.Batch(ctx, b.State, b.Seq)
	if err != nil {
		return nil, fmt.Errorf("record of batch %s: %w", b.ID(), err)
	}
	e := &batchEntry{key: k, batch: b, record: rec, tree: ballot.NewTree(leaves)}

	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.byTx[k]; ok { // built concurrently by another request
		return el.Value.(*batchEntry), nil
	}
	s.byTx[k] = s.lru.PushFront(e)
	for s.lru.Len() > s.limit {
		old := s.lru.Remove(s.lru.Back()).(*batchEntry)
		delete(s.byTx, old.key)
	}
	return e, nil
}
