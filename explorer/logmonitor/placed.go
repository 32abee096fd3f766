package logmonitor

import (
	"context"
	"fmt"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Placement is where the ledger put a vote.
type Placement struct {
	Seq    uint64
	Index  int
	Status string // ballot.ReceiptCounted, ReceiptDuplicate or ReceiptRejected
	Reason string
}

// Placed is where the committed batches of a state put each of their votes,
// by the vote's leaf hash. A vote in several batches keeps its counted
// place. The nil *Placed holds no vote.
//
// A Monitor forgets a vote's place once the vote's log entry is counted
// (forget), so it holds the votes whose entries it has not counted: those
// the ledger holds before the monitor read their entries, and the rejected.
// A counted vote whose entry the log does not hold is forgotten too, once
// judged unlogged (forgetUnlogged). Placements (verify) holds a whole
// state's. Either can be millions, so an entry's value is 24 bytes with no
// pointer (the batch's seq, the vote's index in it, its reason as a number
// into the few distinct reasons, its cast time), which the garbage
// collector does not scan: BenchmarkPlaceLeaves measured 133 live bytes a
// vote with the map's own at a million votes (113 for the 16-byte value
// before the cast time), against 183 for a map of Placement values (two
// strings each), and a full collection 2.7 ns a vote held against 12.
type Placed struct {
	spots   map[[32]byte]spot
	reasons []string          // reasons[r-1] is spot.reason r
	reasonN map[string]uint16 // reason → its number
	// peak is the most votes spots held since it was made: a Go map keeps
	// the room it grew to, so forget moves the votes to a new map once a
	// large one holds under a quarter of its peak.
	peak int
}

// minRebuild is the peak below which a map is not rebuilt (its room is
// a few MB at most).
const minRebuild = 1 << 16

// spot is a vote's Placement as Placed keeps it: reason 0 is counted (no
// reason), r > 0 is Placed.reasons[r-1].
type spot struct {
	seq    uint64
	castAt int64 // Unix ms; 0: not known
	index  uint32
	reason uint16
}

// NewPlaced returns an empty Placed.
func NewPlaced() *Placed {
	return &Placed{spots: map[[32]byte]spot{}, reasonN: map[string]uint16{}}
}

// Len is the number of votes placed.
func (p *Placed) Len() int {
	if p == nil {
		return 0
	}
	return len(p.spots)
}

// Of returns where the vote of leaf was placed, and whether it was.
func (p *Placed) Of(leaf [32]byte) (Placement, bool) {
	if p == nil {
		return Placement{}, false
	}
	s, ok := p.spots[leaf]
	if !ok {
		return Placement{}, false
	}
	pl := Placement{Seq: s.seq, Index: int(s.index), Status: ballot.ReceiptCounted}
	if s.reason > 0 {
		pl.Reason = p.reasons[s.reason-1]
		pl.Status = ballot.ReceiptRejected
		if pl.Reason == ballot.RejectDuplicate {
			pl.Status = ballot.ReceiptDuplicate
		}
	}
	return pl, true
}

// reasonNumber is r's number in p, numbering it if it is new. A batch
// record's reasons come from the chaincode's short list, so the table stays
// small; a record with more distinct reasons than a uint16 numbers keeps
// the last one for the rest (no real record comes near).
func (p *Placed) reasonNumber(r string) uint16 {
	if n, ok := p.reasonN[r]; ok {
		return n
	}
	if len(p.reasons) == 1<<16-1 {
		return uint16(len(p.reasons))
	}
	p.reasons = append(p.reasons, r)
	n := uint16(len(p.reasons))
	p.reasonN[r] = n
	return n
}

// add places the votes of rec's batch (leaves, in order, with their cast
// times castAt, nil if not known); a vote placed counted before keeps that
// place. A vote's reason is rec.Reason's.
func (p *Placed) add(rec ballot.BatchRecord, leaves [][32]byte, castAt []int64) {
	var rejected map[int]uint16 // index → reason number, from the first listing of the index, as rec.Reason reads it
	if len(rec.Rejected) > 0 {
		rejected = make(map[int]uint16, len(rec.Rejected))
		for k, i := range rec.Rejected {
			if _, ok := rejected[i]; ok {
				continue
			}
			reason := ballot.RejectDuplicate
			if k < len(rec.Reasons) {
				reason = rec.Reasons[k]
			}
			rejected[i] = 0
			if reason != "" {
				rejected[i] = p.reasonNumber(reason)
			}
		}
	}
	for i, l := range leaves {
		if prev, ok := p.spots[l]; ok && prev.reason == 0 {
			continue
		}
		sp := spot{seq: rec.Seq, index: uint32(i), reason: rejected[i]}
		if i < len(castAt) {
			sp.castAt = castAt[i]
		}
		p.spots[l] = sp
	}
	p.peak = max(p.peak, len(p.spots))
}

// UnloggedVote is a vote the ledger counted whose entry the state's intake
// log does not hold: the batch and index that hold it, and its cast time.
type UnloggedVote struct {
	Seq    uint64 `json:"seq"`
	Index  int    `json:"index"`
	CastAt int64  `json:"cast_at"` // Unix milliseconds
}

// Where says where the ledger holds the vote, one of state's, and when it
// was cast: "batch CA/4, vote 7, cast 2026-12-05T10:00:00Z".
func (u UnloggedVote) Where(state string) string {
	return fmt.Sprintf("batch %s/%d, vote %d, cast %s", state, u.Seq, u.Index, time.UnixMilli(u.CastAt).UTC().Format(time.RFC3339))
}

// forgetUnlogged forgets the counted votes cast before cutoff (Unix ms),
// calling found for each, and returns how many: votes whose entries were
// never matched, although the log holds entries cast well after them. A
// rejected vote's place is kept (its entry, if any, stays open and is
// listed with the ledger's reason), as is a vote of unknown cast time.
func (p *Placed) forgetUnlogged(cutoff int64, found func(UnloggedVote)) int {
	n := 0
	for l, s := range p.spots {
		if s.reason == 0 && s.castAt != 0 && s.castAt < cutoff {
			found(UnloggedVote{Seq: s.seq, Index: int(s.index), CastAt: s.castAt})
			delete(p.spots, l)
			n++
		}
	}
	if n > 0 {
		p.shrink()
	}
	return n
}

// forget drops the place of the vote of leaf (its entry counted): a later
// batch holding the vote again places it afresh.
func (p *Placed) forget(leaf [32]byte) {
	delete(p.spots, leaf)
	p.shrink()
}

// shrink moves the votes to a new map once a large one holds under a
// quarter of its peak.
func (p *Placed) shrink() {
	if p.peak >= minRebuild && len(p.spots) < p.peak/4 {
		spots := make(map[[32]byte]spot, len(p.spots))
		for l, s := range p.spots {
			spots[l] = s
		}
		p.spots, p.peak = spots, len(spots)
	}
}

// Placements indexes every vote of the state's committed batches by its
// leaf hash (one transaction read per batch); a record its transaction's
// votes do not match is an error wrapping ErrRecordMismatch (placeBatch).
func Placements(ctx context.Context, ledger Ledger, state string) (*Placed, error) {
	out := NewPlaced()
	_, err := ledger.BatchesFrom(ctx, state, "", func(rec ballot.BatchRecord) error {
		if err := placeBatch(ctx, ledger, out, rec); err != nil {
			return fmt.Errorf("batch %s/%d: %w", state, rec.Seq, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the %s batches: %w", state, err)
	}
	return out, nil
}

// placeBatch reads the transaction of the batch of rec and adds where it
// put each vote to placed. A transaction whose votes are not as many as
// rec.Votes or do not give rec.Root is an error wrapping ErrRecordMismatch
// (recordMatches): the record does not describe the votes, and placing
// them by its rejections could show a vote counted that the record counted
// at another index.
func placeBatch(ctx context.Context, ledger Ledger, placed *Placed, rec ballot.BatchRecord) error {
	b, err := ledger.CommittedBatch(ctx, rec.TxID, rec.State, rec.Seq)
	if err != nil {
		return err
	}
	leaves, err := ballot.Leaves(b.Votes)
	if err != nil {
		return err
	}
	if err := recordMatches(rec, leaves); err != nil {
		return err
	}
	placed.add(rec, leaves, castTimes(b.Votes))
	return nil
}

// recordMatches returns an error wrapping ErrRecordMismatch unless leaves,
// the leaf hashes of the votes the transaction rec.TxID carried for rec's
// batch, are rec.Votes many and give rec.Root.
func recordMatches(rec ballot.BatchRecord, leaves [][32]byte) error {
	if len(leaves) != rec.Votes {
		return fmt.Errorf("%w: the ledger's record of batch %s/%d counts %d votes, its transaction %s carries %d",
			ErrRecordMismatch, rec.State, rec.Seq, rec.Votes, rec.TxID, len(leaves))
	}
	if root := ballot.HashHex(ballot.MerkleRoot(leaves)); root != rec.Root {
		return fmt.Errorf("%w: the ledger's record of batch %s/%d has root %s, the votes of its transaction %s give %s",
			ErrRecordMismatch, rec.State, rec.Seq, rec.Root, rec.TxID, root)
	}
	return nil
}

// castTimes are the votes' cast times, in order.
func castTimes(votes []ballot.Vote) []int64 {
	out := make([]int64, len(votes))
	for i, v := range votes {
		out[i] = v.CastAt
	}
	return out
}
