package ledgertest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// The ballot chaincode's transactions, as the chaincode writes them.

// CommitBatch is the VALID CommitBatch transaction id of batch b when the
// chaincode rejects rejects (vote index → reason, ballot.Reject*) and
// counts the rest: its argument, the batch record (the first write), each
// counted vote's nullifier record, the keys read (the batch's and every
// vote's nullifier) and the BatchCommitted event.
func CommitBatch(id string, b ballot.Batch, rejects map[int]string) Tx {
	rec := record(id, b, rejects)
	tx := Tx{ID: id, Function: "CommitBatch", Args: [][]byte{mustJSON(b)},
		Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.BatchKey(b.State, b.Seq), Value: mustJSON(rec)}},
		Event:  &fabricblock.Event{Name: ballot.EventBatchCommitted, Payload: mustJSON(rec.Event())}}
	tx.votes(b, rejects)
	return tx
}

// votes adds what committing batch b reads and writes per vote: each
// vote's nullifier key read, each counted vote's nullifier record written.
func (tx *Tx) votes(b ballot.Batch, rejects map[int]string) {
	tx.Reads = append(tx.Reads, ballot.BatchKey(b.State, b.Seq))
	for i, v := range b.Votes {
		key := ballot.NullifierKey(b.State, v.Nullifier)
		tx.Reads = append(tx.Reads, key)
		if _, ok := rejects[i]; ok {
			continue
		}
		loc, err := ballot.NullifierRecord{State: b.State, Contest: v.Contest, Seq: b.Seq, Index: i, VoteID: v.ID}.Value()
		if err != nil {
			panic(err)
		}
		tx.Writes = append(tx.Writes, fabricblock.Write{Namespace: "ballot", Key: key, Value: loc})
	}
}

// CommitBatches is the VALID CommitBatches transaction id of batches bs
// (of distinct states), each counted as CommitBatch counts it with
// rejects[i] (nil: none): its argument, the batch records (the first
// writes), the votes' reads and writes as CommitBatch's and the
// BatchesCommitted event.
func CommitBatches(id string, bs []ballot.Batch, rejects []map[int]string) Tx {
	tx := Tx{ID: id, Function: "CommitBatches", Args: [][]byte{mustJSON(bs)}}
	recs := make([]ballot.BatchRecord, len(bs))
	for i, b := range bs {
		var r map[int]string
		if i < len(rejects) {
			r = rejects[i]
		}
		recs[i] = record(id, b, r)
		tx.Writes = append(tx.Writes, fabricblock.Write{Namespace: "ballot", Key: ballot.BatchKey(b.State, b.Seq), Value: mustJSON(recs[i])})
	}
	tx.Event = &fabricblock.Event{Name: ballot.EventBatchesCommitted, Payload: mustJSON(ballot.BatchesEvent(recs))}
	for i, b := range bs {
		var r map[int]string
		if i < len(rejects) {
			r = rejects[i]
		}
		tx.votes(b, r)
	}
	return tx
}

// record is the record transaction id writes for batch b when the
// chaincode rejects rejects and counts the rest.
func record(id string, b ballot.Batch, rejects map[int]string) ballot.BatchRecord {
	rec := ballot.BatchRecord{State: b.State, Seq: b.Seq, Root: b.Root, Votes: len(b.Votes), Tallies: ballot.Tally{},
		Rejected: []int{}, Reasons: []string{}, TxID: id}
	for i, v := range b.Votes {
		if reason, ok := rejects[i]; ok {
			rec.Reject(i, reason)
			continue
		}
		rec.Tallies.Add(v.Contest, v.Choice, 1)
		rec.Counted++
	}
	return rec
}

// SetupElection is the SetupElection transaction id whose argument is e,
// writing the record the chaincode stores for it (ballot.SetupElection:
// marked finalise_needs_totals whatever e says). e must be a valid new
// election; one stating no roll size (roll_entries) is stored as a
// chaincode before the size was required stored it, without.
func SetupElection(id string, e ballot.Election) Tx { return setupElection(id, e, true) }

// SetupElectionUnmarked is SetupElection as a chaincode before
// finalise_needs_totals wrote it: the record without the mark (whose
// finalise need not carry batch totals), as an election set up by an
// earlier chaincode, or by one rolled back to it, has.
func SetupElectionUnmarked(id string, e ballot.Election) Tx { return setupElection(id, e, false) }

// setupElection is the SetupElection transaction id of argument e, writing
// its record marked finalise_needs_totals or not.
func setupElection(id string, e ballot.Election, marked bool) Tx {
	arg := e
	if arg.RollEntries == nil {
		arg.RollEntries = new(0) // a stand-in, not stored: only the rest is judged
	}
	rec, err := ballot.SetupElection(arg)
	if err != nil {
		panic(fmt.Sprintf("ledgertest: SetupElection %s: %v", id, err))
	}
	rec.FinaliseNeedsTotals, rec.RollEntries = marked, e.RollEntries
	return Tx{ID: id, Function: "SetupElection", Args: [][]byte{mustJSON(e)},
		Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: mustJSON(rec)}}}
}

// LoadRoll is the LoadRoll transaction id that loads chunk index of the
// roll: each entry's nullifier key marked for its contest and the chunk's
// record, as the chaincode writes them (the entries are sorted by
// nullifier first; they must be a valid chunk).
func LoadRoll(id string, index int, entries ...ballot.RollEntry) Tx {
	tx, _ := loadRoll(id, index, entries)
	return tx
}

// loadRoll is LoadRoll, also returning the chunk's record.
func loadRoll(id string, index int, entries []ballot.RollEntry) (Tx, ballot.RollChunkRecord) {
	tx := Tx{ID: id, Function: "LoadRoll"}
	sorted := slices.Clone(entries)
	ballot.SortRoll(sorted)
	rec, err := ballot.RollChunk{Index: index, Entries: sorted}.Check()
	if err != nil {
		panic(fmt.Sprintf("ledgertest: LoadRoll %s: %v", id, err))
	}
	for _, e := range sorted {
		tx.Writes = append(tx.Writes, fabricblock.Write{Namespace: "ballot", Key: ballot.NullifierKey(e.State, e.Nullifier), Value: ballot.RollMark(e.Contest)})
	}
	tx.Writes = append(tx.Writes, fabricblock.Write{Namespace: "ballot", Key: ballot.RollChunkKey(index), Value: mustJSON(rec)})
	return tx, rec
}

// SealRoll is the SealRoll transaction id that seals the roll of chunks
// (their records in index order) whose root is root, writing the seal the
// chaincode would (with the time 0); if chunks are no roll of that root,
// the seal a dishonest chaincode would write: root, chunks and voters
// claimed as they are. (The seal does not depend on the size an election
// states, which only decides whether the chaincode writes it.)
func SealRoll(id, root string, chunks ...ballot.RollChunkRecord) Tx {
	seal, err := ballot.SealRoll(root, nil, chunks)
	if err != nil {
		seal = ballot.RollSeal{Root: root, Chunks: len(chunks)}
		for _, c := range chunks {
			seal.Voters += c.Entries
		}
	}
	seal.TxID = id
	return Tx{ID: id, Function: "SealRoll", Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.RollSealKey, Value: mustJSON(seal)}}}
}

// RegisterLogKeys is the RegisterLogKeys transaction id of time at that
// registers keys after before (the registered keys), writing the record as
// the chaincode does (nothing if no key is new).
func RegisterLogKeys(id string, at time.Time, before ballot.LogKeys, keys ...ballot.LogKey) Tx {
	tx := Tx{ID: id, Function: "RegisterLogKeys", Time: at, Args: [][]byte{mustJSON(ballot.LogKeysInput{Keys: keys})}}
	after, added, err := before.Register(keys, at.UnixMilli())
	if err != nil {
		panic(fmt.Sprintf("ledgertest: RegisterLogKeys %s: %v", id, err))
	}
	if added > 0 {
		tx.Writes = []fabricblock.Write{{Namespace: "ballot", Key: ballot.LogKeysKey, Value: mustJSON(after)}}
	}
	return tx
}

// AnchorLogHeads is the AnchorLogHeads transaction id of time at that
// anchors anchors, writing each head's record as the chaincode does for a
// head that moves its state's anchored head.
func AnchorLogHeads(id string, at time.Time, anchors ...ballot.LogAnchor) Tx {
	tx := Tx{ID: id, Function: "AnchorLogHeads", Time: at, Args: [][]byte{mustJSON(ballot.LogAnchorsInput{Heads: anchors})}}
	for _, a := range anchors {
		rec := ballot.AnchoredHead{Head: a.Head, TxID: id, AnchoredAt: at.UnixMilli()}
		tx.Writes = append(tx.Writes, fabricblock.Write{Namespace: "ballot", Key: ballot.LogHeadKey(a.Head.State), Value: mustJSON(rec)})
	}
	return tx
}

// Roll returns the transactions that load entries as the roll (in chunks
// of ballot.RollChunkEntries, ids prefix0, prefix1, ...) and seal it (id
// prefix+"seal"), and the roll root the election record must carry for
// the seal to hold.
func Roll(prefix string, entries []ballot.RollEntry) (root string, loads []Tx, seal Tx) {
	sorted := slices.Clone(entries)
	root = ballot.RollRoot(sorted)
	var records []ballot.RollChunkRecord
	for _, c := range ballot.ChunkRoll(sorted) {
		load, rec := loadRoll(fmt.Sprint(prefix, c.Index), c.Index, c.Entries)
		loads, records = append(loads, load), append(records, rec)
	}
	return root, loads, SealRoll(prefix+"seal", root, records...)
}

// ChunkRecord returns the chunk record a LoadRoll transaction writes (the
// zero record if it writes none).
func ChunkRecord(load Tx) ballot.RollChunkRecord {
	var rec ballot.RollChunkRecord
	for _, w := range load.Writes {
		if _, ok := ballot.ParseRollChunkKey(w.Key); ok {
			if err := json.Unmarshal(w.Value, &rec); err != nil {
				panic(fmt.Sprintf("ledgertest: chunk record of %s: %v", load.ID, err))
			}
		}
	}
	return rec
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // unreachable for the ledger's record types
		panic(err)
	}
	return b
}
