package audit

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// The nullifier keys' checks. The chaincode writes a nullifier key
// (ballot.NullifierKey, the range ballot.InNullifierRange) in two ways
// only (chaincode/commit.go, chaincode/roll.go): CommitBatch and
// CommitBatches write, for each vote they count and for no other, its
// ballot.NullifierRecord (the batch's state and seq, the vote's index, id
// and contest, as NullifierRecord.Value encodes it) under the key of its
// state and nullifier; LoadRoll writes the roll's marks (roll.go checks
// them). It never deletes one. A record written for a vote not counted
// would have the voter's own vote rejected as a duplicate; one missing
// would let the voter vote again.

// checkNullifierWrites checks what the VALID transaction tx wrote in the
// range of nullifier keys against its batches as audited (none for a
// transaction that commits none). complete is false when the batches
// cannot be checked against: one did not decode, or its transaction wrote
// no record and was not recounted (its batch_decode or batch_record
// issue); only deletes are then flagged.
func (a Auditor) checkNullifierWrites(r *Report, tx fabricblock.Tx, batches []Batch, complete bool) {
	commits := a.commits(tx)
	var writes map[string][]byte // key → value written, roll marks of other functions left out
	var deleted []string
	for _, w := range tx.Writes {
		if w.Namespace != a.Chaincode || !ballot.InNullifierRange(w.Key) {
			continue
		}
		if w.Delete {
			deleted = append(deleted, w.Key)
			continue
		}
		if _, mark := ballot.ParseRollMark(w.Value); mark && !commits {
			continue // the roll's: roll.go checks it
		}
		if writes == nil {
			writes = map[string][]byte{}
		}
		writes[w.Key] = w.Value
	}
	if len(deleted) > 0 {
		r.issue(KindNullifier, tx.ID, fmt.Sprintf("a %s transaction deleted %d nullifier keys (first %s): the chaincode never deletes one", cmpFunction(tx), len(deleted), nullifierName(deleted[0])))
	}
	switch {
	case !commits && len(writes) > 0:
		r.issue(KindNullifier, tx.ID, fmt.Sprintf("a %s transaction wrote %d nullifier records (first %s): only a CommitBatch or CommitBatches writes one, for a vote it counts",
			cmpFunction(tx), len(writes), nullifierName(slices.Min(slices.Collect(maps.Keys(writes))))))
	case commits && complete:
		checkCountedNullifiers(r, tx.ID, batches, writes)
	}
}

// checkCountedNullifiers checks that writes (the nullifier keys a commit
// wrote, by key) are exactly the records of its batches' counted votes.
// The counted votes' keys are distinct (the recount rejects a nullifier
// counted before, and a transaction's batches are of distinct states), so
// with every one found, a write beyond their number is one of no counted
// vote. Per vote it builds the key and the record in reused buffers.
func checkCountedNullifiers(r *Report, txID string, batches []Batch, writes map[string][]byte) {
	found := 0
	var key, want []byte
	for _, b := range batches {
		if !b.recounted {
			continue
		}
		missing, wrong, first := 0, 0, ""
		for i, v := range b.counted() {
			key = ballot.AppendNullifierKey(key[:0], b.Batch.State, v.Nullifier)
			got, ok := writes[string(key)]
			if ok {
				found++
			}
			rec, err := ballot.NullifierRecord{State: b.Batch.State, Contest: v.Contest, Seq: b.Batch.Seq, Index: i, VoteID: v.ID}.AppendValue(want[:0])
			if err == nil {
				want = rec
			}
			switch {
			case !ok:
				missing++
			case err != nil || !bytes.Equal(got, want):
				wrong++
			default:
				continue
			}
			if first == "" {
				first = fmt.Sprintf("vote %d, nullifier %s", i, v.Nullifier)
			}
		}
		if missing > 0 || wrong > 0 {
			r.issue(KindNullifier, txID, fmt.Sprintf("batch %s: of its %d counted votes' nullifier records, %d not written and %d written other than the chaincode writes them (first %s)",
				b.Batch.ID(), b.Counted(), missing, wrong, first))
		}
	}
	if extra := len(writes) - found; extra > 0 {
		r.issue(KindNullifier, txID, fmt.Sprintf("%d nullifier keys written for no vote the transaction counts (first %s): the voter's own vote would be rejected as a duplicate",
			extra, nullifierName(firstUncounted(batches, writes))))
	}
}

// firstUncounted returns the least key of writes that is no counted vote's
// nullifier key in batches ("" if none): the slow path, once a commit is
// known to have written one.
func firstUncounted(batches []Batch, writes map[string][]byte) string {
	counted := map[string]bool{}
	for _, b := range batches {
		if !b.recounted {
			continue
		}
		for i, v := range b.Batch.Votes {
			if _, rejected := slices.BinarySearch(b.Rejected, i); !rejected {
				counted[string(ballot.AppendNullifierKey(nil, b.Batch.State, v.Nullifier))] = true
			}
		}
	}
	first := ""
	for key := range writes {
		if !counted[key] && (first == "" || key < first) {
			first = key
		}
	}
	return first
}

// nullifierName names a key of the nullifier range for messages:
// state/nullifier, or quoted if it is no nullifier key.
func nullifierName(key string) string {
	if state, nullifier, ok := ballot.ParseNullifierKey(key); ok {
		return state + "/" + nullifier
	}
	return fmt.Sprintf("%q", key)
}

// maxCrossStateListed bounds the votes a cross_state issue names.
const maxCrossStateListed = 5

// checkCrossState flags b's votes the recount counted whose nullifier a
// vote of another of the election's states was counted with before, on
// the ledger or earlier in the block: one voter's votes in a contest
// counted twice (one issue for the batch, naming the first
// maxCrossStateListed, each with a state it was counted in). The chaincode
// keys nullifiers by state, so it does not stop this while the roll is
// not sealed (docs/ledger.md, Nullifiers); once it is sealed, a vote
// counts only if on its own state's roll, and none is looked for.
//
// Its cost is one probe a counted vote, whatever the election's states:
// the block's own are one map lookup by nullifier (countedIn), the
// ledger's one History.MaybeUsedAnywhere for the batch (the index answers
// from a filter of nullifiers alone), and only the votes it cannot rule
// out are looked up in each other state (UsedNullifiers, one call): on an
// honest ledger about 1% of them, not each vote in every state.
func (h *blockHistory) checkCrossState(ctx context.Context, r *Report, txID string, b Batch) error {
	if h.sealed || h.election == nil || len(h.election.States) < 2 || !b.recounted {
		return nil
	}
	counted := b.countedVotes()
	nullifiers := make([]string, len(counted))
	for i, v := range counted {
		nullifiers[i] = v.Nullifier
	}
	maybe, known, err := h.History.MaybeUsedAnywhere(ctx, nullifiers)
	if err != nil {
		return err
	}
	var keys []Nullifier
	for _, v := range counted {
		if known && !maybe[v.Nullifier] {
			continue
		}
		for _, st := range h.election.States {
			if st != v.State {
				keys = append(keys, Nullifier{st, v.Nullifier})
			}
		}
	}
	var usedBefore map[Nullifier]bool
	if len(keys) > 0 {
		if usedBefore, err = h.History.UsedNullifiers(ctx, keys); err != nil {
			return err
		}
	}
	var found []string
	n := 0
	for _, v := range counted {
		in, ok := otherState(h.countedIn[v.Nullifier], v.State)
		if !ok && len(usedBefore) > 0 {
			in, ok = otherState(usedIn(usedBefore, h.election.States, v.Nullifier), v.State)
		}
		if !ok {
			continue
		}
		if n++; len(found) < maxCrossStateListed {
			found = append(found, fmt.Sprintf("vote %s in contest %s, nullifier %s, counted before in %s", v.ID, v.Contest, v.Nullifier, in))
		}
	}
	if n > 0 {
		r.issue(KindCrossState, txID, fmt.Sprintf("batch %s: %d counted votes whose nullifiers were counted before in another state, each a voter counted twice in one contest; the chaincode keeps a nullifier to one state only once the roll is sealed, and this election's is not (first: %s)",
			b.Batch.ID(), n, strings.Join(found, "; ")))
	}
	return nil
}

// usedIn returns those of states in which used holds nullifier.
func usedIn(used map[Nullifier]bool, states []string, nullifier string) []string {
	var out []string
	for _, st := range states {
		if used[Nullifier{st, nullifier}] {
			out = append(out, st)
		}
	}
	return out
}

// otherState returns the first of states that is not state.
func otherState(states []string, state string) (string, bool) {
	for _, st := range states {
		if st != state {
			return st, true
		}
	}
	return "", false
}

// counted yields the votes of b the recount counted, with their indexes
// in the batch, in order (b.Rejected is ascending).
func (b Batch) counted() iter.Seq2[int, ballot.Vote] {
	return func(yield func(int, ballot.Vote) bool) {
		rejected := b.Rejected
		for i, v := range b.Batch.Votes {
			if len(rejected) > 0 && rejected[0] == i {
				rejected = rejected[1:]
				continue
			}
			if !yield(i, v) {
				return
			}
		}
	}
}

// countedVotes returns the votes of b the recount counted, in order.
func (b Batch) countedVotes() []ballot.Vote {
	out := make([]ballot.Vote, 0, b.Counted())
	for _, v := range b.counted() {
		out = append(out, v)
	}
	return out
}
