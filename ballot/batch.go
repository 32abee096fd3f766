package ballot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxVoteJSONBytes bounds the JSON size of one vote when sizing batch input
// (a vote with the longest fields is under 250 bytes compact).
const MaxVoteJSONBytes = 400

// batchOverheadBytes allows for the batch's own fields and the tallies.
const batchOverheadBytes = 64 << 10

// MaxBatchBytes is the largest JSON document DecodeBatch accepts for a batch
// of at most maxVotes votes.
func MaxBatchBytes(maxVotes int) int { return batchOverheadBytes + maxVotes*MaxVoteJSONBytes }

// Batch is a sequence of votes of one state, committed to the ledger in one
// transaction. Its id is (State, Seq); Root and Tallies are the submitter's
// claims, which the chaincode recomputes. Its JSON (MarshalJSON) carries
// the votes as columns, without their state, which is the batch's.
type Batch struct {
	State   string
	Seq     uint64
	Votes   []Vote
	Root    string // hex Merkle root over the votes' leaves in order
	Tallies Tally  // claimed counts per contest and choice over ALL votes in the batch
}

// Errors returned (wrapped) by Batch.Verify.
var (
	ErrBatchRoot  = errors.New("ballot: batch root does not match its votes")
	ErrBatchTally = errors.New("ballot: batch tallies do not match its votes")
)

// BuildBatch makes the batch seq of state from votes (not copied), computing
// its root and tallies. Every vote must be valid and of state.
func BuildBatch(state string, seq uint64, votes []Vote) (Batch, error) {
	b := Batch{State: state, Seq: seq, Votes: votes}
	if err := b.checkVotes(); err != nil {
		return Batch{}, err
	}
	leaves, err := Leaves(votes)
	if err != nil {
		return Batch{}, fmt.Errorf("batch %s: %w", b.ID(), err)
	}
	b.Root = HashHex(MerkleRoot(leaves))
	b.Tallies = TallyOf(votes)
	return b, nil
}

// batchJSON is a batch as JSON carries it: the votes as columns, one array
// per field, without the state (the batch's).
type batchJSON struct {
	State   string      `json:"state"`
	Seq     uint64      `json:"seq"`
	Votes   voteColumns `json:"votes"`
	Root    string      `json:"root"`
	Tallies Tally       `json:"tallies"`
}

// voteColumns holds a batch's votes field by field: vote i is the i-th
// entry of every column.
type voteColumns struct {
	ID        []string `json:"id"`
	Contest   []string `json:"contest"`
	Nullifier []string `json:"nullifier"`
	Choice    []string `json:"choice"`
	CastAt    []int64  `json:"cast_at"`
}

// MarshalJSON encodes the batch as its JSON carries it (batchJSON); it
// refuses a vote of another state, which the JSON could not carry.
func (b Batch) MarshalJSON() ([]byte, error) {
	n := len(b.Votes)
	c := voteColumns{ID: make([]string, n), Contest: make([]string, n), Nullifier: make([]string, n), Choice: make([]string, n), CastAt: make([]int64, n)}
	for i, v := range b.Votes {
		if v.State != b.State {
			return nil, fmt.Errorf("ballot: batch %s vote %d is of state %q", b.ID(), i, v.State)
		}
		c.ID[i], c.Contest[i], c.Nullifier[i], c.Choice[i], c.CastAt[i] = v.ID, v.Contest, v.Nullifier, v.Choice, v.CastAt
	}
	return json.Marshal(batchJSON{State: b.State, Seq: b.Seq, Votes: c, Root: b.Root, Tallies: b.Tallies})
}

// UnmarshalJSON decodes a batch's JSON strictly (DecodeStrict, columns of
// one length), giving each vote the batch's state. It checks nothing else:
// DecodeBatch does.
func (b *Batch) UnmarshalJSON(data []byte) error {
	var w batchJSON
	if err := DecodeStrict(data, &w); err != nil {
		return err
	}
	return b.fromJSON(w)
}

func (b *Batch) fromJSON(w batchJSON) error {
	c := w.Votes
	n := len(c.ID)
	if len(c.Contest) != n || len(c.Nullifier) != n || len(c.Choice) != n || len(c.CastAt) != n {
		return fmt.Errorf("ballot: batch %s/%d vote columns differ in length: %d ids, %d contests, %d nullifiers, %d choices, %d cast_at",
			truncate(w.State), w.Seq, n, len(c.Contest), len(c.Nullifier), len(c.Choice), len(c.CastAt))
	}
	*b = Batch{State: w.State, Seq: w.Seq, Votes: make([]Vote, n), Root: w.Root, Tallies: w.Tallies}
	for i := range b.Votes {
		b.Votes[i] = Vote{ID: c.ID[i], State: w.State, Contest: c.Contest[i], Nullifier: c.Nullifier[i], Choice: c.Choice[i], CastAt: c.CastAt[i]}
	}
	return nil
}

// ID returns the batch id as "STATE/SEQ", for logs and messages.
func (b Batch) ID() string { return fmt.Sprintf("%s/%d", b.State, b.Seq) }

// BatchIDs names batches by their ids for messages, one wording for every
// package: "batch CA/3" for one, "batches CA/3, TX/5" for several; bs is
// not empty (callers refuse an empty list before they name it).
func BatchIDs(bs []Batch) string {
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ID()
	}
	if len(ids) == 1 {
		return "batch " + ids[0]
	}
	return "batches " + strings.Join(ids, ", ")
}

// checkVotes checks the batch's state, that it has votes, and that every
// vote is valid and of the batch's state.
func (b Batch) checkVotes() error {
	if !ValidState(b.State) {
		return fmt.Errorf("ballot: batch state %q must be 2..8 characters of [A-Z0-9]", truncate(b.State))
	}
	if len(b.Votes) == 0 {
		return fmt.Errorf("ballot: batch %s has no votes", b.ID())
	}
	for i, v := range b.Votes {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("batch %s vote %d: %w", b.ID(), i, err)
		}
		if v.State != b.State {
			return fmt.Errorf("ballot: batch %s vote %d is of state %q", b.ID(), i, v.State)
		}
	}
	return nil
}

// DecodeBatch parses a batch strictly: at most MaxBatchBytes(maxVotes) bytes,
// one JSON object with no unknown fields (the votes' columns name no state:
// it is the batch's) and nothing after it, vote columns of one length, at
// most maxVotes votes, every vote valid, and a hex root.
// It does not check the claimed root and tallies; call Verify for that.
func DecodeBatch(data []byte, maxVotes int) (Batch, error) {
	return decodeBatch(data, nil, maxVotes)
}

// decodeBatch is DecodeBatch of data, already decoded into scanned if that
// is not nil (scanBatches).
func decodeBatch(data []byte, scanned *batchJSON, maxVotes int) (Batch, error) {
	if maxVotes <= 0 {
		return Batch{}, fmt.Errorf("ballot: decode batch: vote bound %d must be positive", maxVotes)
	}
	if limit := MaxBatchBytes(maxVotes); len(data) > limit {
		return Batch{}, fmt.Errorf("ballot: decode batch: %d bytes exceeds the %d-byte bound", len(data), limit)
	}
	w, ok := batchJSON{}, false
	if scanned != nil {
		w, ok = *scanned, true
	} else {
		w, ok = scanBatch(data)
	}
	if !ok {
		w = batchJSON{}
		if err := DecodeStrict(data, &w); err != nil {
			return Batch{}, fmt.Errorf("ballot: decode batch: %w", err)
		}
	}
	var b Batch
	if err := b.fromJSON(w); err != nil {
		return Batch{}, err
	}
	if len(b.Votes) > maxVotes {
		return Batch{}, fmt.Errorf("ballot: decode batch %s: %d votes exceeds the bound of %d", b.ID(), len(b.Votes), maxVotes)
	}
	if err := b.checkVotes(); err != nil {
		return Batch{}, err
	}
	if !isLowerHex(b.Root, 64) {
		return Batch{}, fmt.Errorf("ballot: batch %s root %q is not 64 lowercase hex characters", b.ID(), truncate(b.Root))
	}
	return b, nil
}

// DecodeStrict decodes data, which must be exactly one JSON value with no
// fields unknown to v and nothing but white space after it, into v. Ledger
// inputs are decoded this way so that misspelt or smuggled fields are refused
// rather than silently dropped.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Verify recomputes the batch's root and tallies from its votes and refuses
// a batch whose claims differ. It returns the leaves, which the caller may
// reuse (e.g. for receipts).
func (b Batch) Verify() ([][32]byte, error) {
	leaves, err := Leaves(b.Votes)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", b.ID(), err)
	}
	if root := HashHex(MerkleRoot(leaves)); root != b.Root {
		return nil, fmt.Errorf("%w: batch %s claims %s, votes give %s", ErrBatchRoot, b.ID(), b.Root, root)
	}
	if t := TallyOf(b.Votes); !t.Equal(b.Tallies) {
		return nil, fmt.Errorf("%w: batch %s claims %v, votes give %v", ErrBatchTally, b.ID(), b.Tallies, t)
	}
	return leaves, nil
}

// BatchRecord is what the ledger stores under BatchKey(State, Seq) once a
// batch is committed (JSON).
type BatchRecord struct {
	State       string   `json:"state"`
	Seq         uint64   `json:"seq"`
	Root        string   `json:"root"`         // Merkle root over all votes of the batch
	Votes       int      `json:"votes"`        // votes in the batch (the tree size)
	Counted     int      `json:"counted"`      // votes counted: Votes - len(Rejected)
	Tallies     Tally    `json:"tallies"`      // counted votes per contest and choice
	Rejected    []int    `json:"rejected"`     // indices of rejected votes, ascending; never null
	Reasons     []string `json:"reasons"`      // why each of Rejected was rejected (Reject* constants), in the same order; never null
	TxID        string   `json:"tx_id"`        // transaction that committed the batch
	CommittedAt int64    `json:"committed_at"` // transaction timestamp, Unix milliseconds
}

// MaxBatchVotes is the most votes one batch may hold: the chaincode refuses
// larger ones, so batchers cut below it and readers decode up to it.
const MaxBatchVotes = 10_000

// EventBatchCommitted is the name of the chaincode event CommitBatch emits.
const EventBatchCommitted = "BatchCommitted"

// BatchEvent is the payload (JSON) of the BatchCommitted chaincode event.
type BatchEvent struct {
	State    string   `json:"state"`
	Seq      uint64   `json:"seq"`
	Root     string   `json:"root"`
	Counted  int      `json:"counted"`
	Rejected []int    `json:"rejected"` // indices of rejected votes; never null
	Reasons  []string `json:"reasons"`  // why each of Rejected was rejected
	Tallies  Tally    `json:"tallies"`  // counted votes per contest and choice
}

// Event returns the BatchCommitted event of the record.
func (r BatchRecord) Event() BatchEvent {
	return BatchEvent{State: r.State, Seq: r.Seq, Root: r.Root, Counted: r.Counted, Rejected: r.Rejected, Reasons: r.Reasons, Tallies: r.Tallies}
}

// StateResult is the count of one state, summed over its batch records.
type StateResult struct {
	State    string `json:"state"`
	Batches  int    `json:"batches"`
	Counted  uint64 `json:"counted"`
	Rejected uint64 `json:"rejected"`
	Tallies  Tally  `json:"tallies"`
}

// Add adds a batch record of the state to the result.
func (s *StateResult) Add(r BatchRecord) {
	s.Batches++
	s.Counted += uint64(r.Counted)
	s.Rejected += uint64(len(r.Rejected))
	s.Tallies.Merge(r.Tallies)
}

// Results are the election's results: national totals and every state's.
type Results struct {
	ElectionID string                 `json:"election_id"`
	Status     string                 `json:"status"`
	Counted    uint64                 `json:"counted"`
	Rejected   uint64                 `json:"rejected"`
	National   Tally                  `json:"national"`
	States     map[string]StateResult `json:"states"`
}

// Apply adds a committed batch, as its BatchCommitted event reports it, to
// the results: the state's and the national counts.
func (r *Results) Apply(ev BatchEvent) {
	if r.States == nil {
		r.States = map[string]StateResult{}
	}
	if r.National == nil {
		r.National = Tally{}
	}
	s := r.States[ev.State]
	s.State = ev.State
	if s.Tallies == nil {
		s.Tallies = Tally{}
	}
	s.Add(BatchRecord{Counted: ev.Counted, Rejected: ev.Rejected, Tallies: ev.Tallies})
	r.States[ev.State] = s
	r.Counted += uint64(ev.Counted)
	r.Rejected += uint64(len(ev.Rejected))
	r.National.Merge(ev.Tallies)
}
