package ledgertest

import (
	"encoding/json"

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

// SetupElection is the SetupElection transaction id that writes e.
func SetupElection(id string, e ballot.Election) Tx {
	election := mustJSON(e)
	return Tx{ID: id, Function: "SetupElection", Args: [][]byte{election},
		Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: election}}}
}

// LoadRoll is the LoadRoll transaction id that writes entries on the roll.
func LoadRoll(id string, entries ...ballot.RollEntry) Tx {
	tx := Tx{ID: id, Function: "LoadRoll"}
	for _, e := range entries {
		tx.Writes = append(tx.Writes, fabricblock.Write{Namespace: "ballot", Key: ballot.NullifierKey(e.State, e.Nullifier), Value: ballot.RollMark(e.Contest)})
	}
	return tx
}

// SealRoll is the SealRoll transaction id that seals the roll.
func SealRoll(id string) Tx {
	return Tx{ID: id, Function: "SealRoll", Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.RollSealKey, Value: []byte(`{}`)}}}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // unreachable for the ledger's record types
		panic(err)
	}
	return b
}
