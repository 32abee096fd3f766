package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// The roll's checks. A VALID LoadRoll transaction writes one chunk of the
// roll: each entry's nullifier key marked for its contest, and the chunk's
// record (ballot.RollChunkRecord: entries, first and last nullifier, Merkle
// root) under its RollChunkKey; SealRoll writes the seal once the loaded
// chunks hash to the election's roll root. The audit recomputes both from
// the write sets: each chunk record from the marks its own transaction
// wrote (ballot.RollChunk.Check over them in nullifier order), and the
// seal from the records of every chunk loaded before it and the roll root
// and size of the election record (ballot.SealRoll), so the marks the
// recount counts votes against are the roll whose root and size the
// election published. A record that states no size (an earlier
// chaincode's) holds the seal to its root alone, as that chaincode did:
// a roll of subtrees replaced by their node hashes passes then, and the
// explorer's audit page says the seal is not bound to a size.
// The two recomputations also hold the roll to listing each nullifier
// once (a nullifier marked under two states would let its voter vote in
// each, and the cross_state check is off once the roll is sealed): the
// marks of one transaction are no chunk if two share a nullifier
// (roll_chunk), and chunks whose records overlap are no roll (roll_seal);
// the issue names the nullifier where the records give it, within a
// transaction or ending one chunk and starting the next
// (ballot.ErrRollRepeat). Every record being checked against its own
// marks, that proves the whole roll distinct with no index over its
// nullifiers: the audit holds one transaction's marks at a time (8192
// for a LoadRoll, sorted once) and, across transactions, only the chunk
// records (about 300 bytes a chunk, under 0.04 bytes an entry). Where
// History kept no chunk records (ErrNotRecorded) the seal, and so a
// repeat across chunks loaded in earlier blocks, is not checked.
// Nothing may be written on the roll once it is sealed, nor once a batch
// is committed: LoadRoll and SealRoll both refuse then (anyBatch), so a
// mark never overwrites a counted vote's nullifier record (which would
// let the voter vote again) and one roll rule holds for every batch.

// txRoll is what one transaction wrote of the roll.
type txRoll struct {
	entries []ballot.RollEntry
	chunks  []chunkWrite
	seal    []byte
	sealed  bool // the transaction wrote the seal
}

// chunkWrite is a chunk record as a transaction wrote it.
type chunkWrite struct {
	index int
	raw   []byte
}

// rollWrites records the roll entries (nullifier keys given the roll's
// mark), chunk records and seal tx wrote, and checks them against each
// other and the roll before. It fails only when the History does.
func (a Auditor) rollWrites(ctx context.Context, r *Report, tx fabricblock.Tx, h *blockHistory) error {
	var w txRoll
	for _, wr := range tx.Writes {
		if wr.Namespace != a.Chaincode || wr.Delete {
			continue
		}
		if wr.Key == ballot.RollSealKey {
			w.seal, w.sealed = wr.Value, true
			continue
		}
		// The value first: it is a roll mark only on LoadRoll's writes, and
		// a vote's nullifier write is not worth parsing the key of.
		if contest, mark := ballot.ParseRollMark(wr.Value); mark {
			if state, nullifier, ok := ballot.ParseNullifierKey(wr.Key); ok {
				w.entries = append(w.entries, ballot.RollEntry{State: state, Contest: contest, Nullifier: nullifier})
			}
			continue
		}
		if index, ok := ballot.ParseRollChunkKey(wr.Key); ok {
			w.chunks = append(w.chunks, chunkWrite{index, wr.Value})
		}
	}
	if len(w.entries) == 0 && len(w.chunks) == 0 && !w.sealed {
		return nil
	}
	h.need |= needAdmin
	if h.sealed && (len(w.entries) > 0 || len(w.chunks) > 0) {
		r.issue(KindRollSeal, tx.ID, fmt.Sprintf("the roll is sealed, yet the transaction wrote %d roll marks and %d chunk records", len(w.entries), len(w.chunks)))
	}
	for _, e := range w.entries {
		h.roll[Nullifier{e.State, e.Nullifier}] = e.Contest
	}
	r.Roll = append(r.Roll, w.entries...)
	if err := h.loadChunks(ctx); err != nil {
		return err
	}
	if !a.commits(tx) { // a commit's marks are its nullifier writes' issue (nullifiers.go)
		if err := checkRollBeforeBatches(ctx, r, tx.ID, w, h); err != nil {
			return err
		}
	}
	if len(w.entries) > 0 || len(w.chunks) > 0 {
		checkChunk(r, tx.ID, w, h)
	}
	if w.sealed {
		checkSeal(r, tx.ID, w.seal, h)
		h.sealed, r.RollSealed = true, true
	}
	return nil
}

// checkRollBeforeBatches flags roll writes once a batch is committed: a
// load (roll_chunk), naming how many of its marks overwrote a counted
// vote's nullifier record, and a seal (roll_seal). The counted
// nullifiers are looked up (one History lookup for the transaction's
// marks) only for a load so flagged. It fails only when the History does.
func checkRollBeforeBatches(ctx context.Context, r *Report, txID string, w txRoll, h *blockHistory) error {
	loads := len(w.entries) > 0 || len(w.chunks) > 0
	committed, err := h.committedBatches(ctx, r)
	if err != nil || committed == 0 {
		return err
	}
	if w.sealed {
		r.issue(KindRollSeal, txID, fmt.Sprintf("the roll sealed once %d batches are committed: SealRoll refuses once one is", committed))
	}
	if !loads {
		return nil
	}
	keys := make([]Nullifier, 0, len(w.entries))
	for _, e := range w.entries {
		keys = append(keys, Nullifier{e.State, e.Nullifier})
	}
	used, err := h.History.UsedNullifiers(ctx, keys)
	if err != nil {
		return err
	}
	overwritten, first := 0, ""
	for _, k := range keys {
		if used[k] || h.nullifiers[k] {
			if overwritten++; first == "" {
				first = k.State + "/" + k.Nullifier
			}
		}
	}
	msg := fmt.Sprintf("the roll loaded once %d batches are committed (LoadRoll refuses once one is)", committed)
	if overwritten > 0 {
		msg += fmt.Sprintf(": %d of its %d roll marks overwrote a counted vote's nullifier record (first %s), so the voter may vote again", overwritten, len(keys), first)
	}
	r.issue(KindRollChunk, txID, msg)
	return nil
}

// checkChunk checks the chunk record a LoadRoll transaction wrote against
// the marks it wrote, and records it.
func checkChunk(r *Report, txID string, w txRoll, h *blockHistory) {
	switch {
	case len(w.chunks) == 0:
		r.issue(KindRollChunk, txID, fmt.Sprintf("the transaction wrote %d roll marks and no chunk record", len(w.entries)))
		return
	case len(w.chunks) > 1:
		r.issue(KindRollChunk, txID, fmt.Sprintf("the transaction wrote %d chunk records; a LoadRoll writes one", len(w.chunks)))
	}
	for _, c := range w.chunks {
		var rec ballot.RollChunkRecord
		if err := json.Unmarshal(c.raw, &rec); err != nil {
			r.issue(KindRollChunk, txID, fmt.Sprintf("roll chunk %d: undecodable record: %v", c.index, err))
			continue
		}
		if first, ok := h.chunks[c.index]; ok {
			r.issue(KindRollChunk, txID, fmt.Sprintf("roll chunk %d: record written again (first root %s)", c.index, ballot.Clip(first.Root)))
		}
		h.chunks[c.index] = rec
		r.RollChunks = append(r.RollChunks, rec)
		if len(w.chunks) > 1 {
			continue // which marks belong to which record is unknowable
		}
		entries := slices.Clone(w.entries)
		ballot.SortRoll(entries)
		want, err := ballot.RollChunk{Index: c.index, Entries: entries}.Check()
		switch {
		case err != nil:
			r.issue(KindRollChunk, txID, fmt.Sprintf("roll chunk %d: the transaction's %d roll marks are no chunk: %v", c.index, len(entries), err))
		case want != rec:
			r.issue(KindRollChunk, txID, fmt.Sprintf("roll chunk %d: record %+v, the transaction's roll marks give %+v", c.index, clipChunk(rec), want))
		}
	}
}

// checkSeal checks the seal a SealRoll transaction wrote against the
// chunks loaded before it and the election's roll root and size.
func checkSeal(r *Report, txID string, raw []byte, h *blockHistory) {
	if h.sealed {
		r.issue(KindRollSeal, txID, "the roll's seal written again")
		return
	}
	var seal ballot.RollSeal
	if err := json.Unmarshal(raw, &seal); err != nil {
		r.issue(KindRollSeal, txID, fmt.Sprintf("undecodable seal: %v", err))
		return
	}
	if !h.chunksKnown {
		return
	}
	if h.election == nil {
		r.issue(KindRollSeal, txID, "the roll sealed with no election record written")
		return
	}
	want, err := ballot.SealRoll(h.election.RollRoot, h.election.RollEntries, h.loadedChunks())
	if err != nil {
		r.issue(KindRollSeal, txID, fmt.Sprintf("seal of root %s over %d voters, but the loaded chunks are no such roll: %v", ballot.Clip(seal.Root), seal.Voters, err))
		return
	}
	want.TxID, want.SealedAt = txID, seal.SealedAt // the time is the transaction's, not recomputed
	if seal != want {
		r.issue(KindRollSeal, txID, fmt.Sprintf("seal %+v; the loaded chunks and the election's roll root give %+v", clipSeal(seal), want))
	}
}

// clipChunk returns the chunk record c, as read from the ledger unchecked,
// with its text fields clipped (ballot.Clip) for an issue's message.
func clipChunk(c ballot.RollChunkRecord) ballot.RollChunkRecord {
	c.First, c.Last, c.Root = ballot.Clip(c.First), ballot.Clip(c.Last), ballot.Clip(c.Root)
	return c
}

// clipSeal returns the seal s, as read from the ledger unchecked, with its
// text fields clipped (ballot.Clip) for an issue's message.
func clipSeal(s ballot.RollSeal) ballot.RollSeal {
	s.Root, s.TxID = ballot.Clip(s.Root), ballot.Clip(s.TxID)
	return s
}

// loadedChunks returns the chunk records loaded so far in index order;
// h.chunks must be loaded.
func (h *blockHistory) loadedChunks() []ballot.RollChunkRecord {
	chunks := make([]ballot.RollChunkRecord, 0, len(h.chunks))
	for _, i := range slices.Sorted(maps.Keys(h.chunks)) {
		chunks = append(chunks, h.chunks[i])
	}
	return chunks
}

// loadedEntries returns the entries of the chunks loaded so far, as a
// seal counts them; h.chunks must be loaded.
func (h *blockHistory) loadedEntries() int {
	n := 0
	for _, c := range h.chunks {
		n += c.Entries
	}
	return n
}

// loadChunks reads the chunk records of the blocks before from History,
// once a block.
func (h *blockHistory) loadChunks(ctx context.Context) error {
	if h.chunks != nil {
		return nil
	}
	h.chunks = map[int]ballot.RollChunkRecord{}
	before, err := h.History.RollChunks(ctx)
	switch {
	case errors.Is(err, ErrNotRecorded):
		return nil
	case err != nil:
		return err
	}
	for _, c := range before {
		h.chunks[c.Index] = c
	}
	h.chunksKnown = true
	return nil
}
