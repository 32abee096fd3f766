package chaincode

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

// maxRollChunkBytes bounds the JSON of one LoadRoll chunk: a full chunk of
// entries with the longest states is under 0.9 MB.
const maxRollChunkBytes = 64<<10 + ballot.RollChunkEntries*110

// errRollSealed refuses loading once the roll is sealed.
var errRollSealed = errors.New("the roll is sealed: it can no longer be loaded or changed")

// LoadRoll writes one chunk of the election's roll (JSON ballot.RollChunk:
// its index and entries, nullifiers strictly ascending): each entry's
// nullifier key (ballot.NullifierKey of its state) gets the roll's mark
// (ballot.RollMark of its contest), and the chunk's record (ballot.RollChunkRecord,
// returned as JSON) its own key. Only a Commission admin may call it, and
// only before the roll is sealed and before any batch is committed (so a
// mark never overwrites a used nullifier). Chunks are independent
// transactions, so they may be submitted concurrently and in any order.
// Loading a chunk again with the same entries (the same root) writes
// nothing and returns the stored record; different entries under a loaded
// index are refused, so an entry, once loaded, stays.
func (c *BallotContract) LoadRoll(ctx contractapi.TransactionContextInterface, chunkJSON string) (string, error) {
	if err := requireAdmin(ctx); err != nil {
		return "", err
	}
	if len(chunkJSON) > maxRollChunkBytes {
		return "", fmt.Errorf("roll chunk of %d bytes exceeds %d", len(chunkJSON), maxRollChunkBytes)
	}
	var chunk ballot.RollChunk
	if err := ballot.DecodeStrict([]byte(chunkJSON), &chunk); err != nil {
		return "", fmt.Errorf("decode roll chunk: %w", err)
	}
	rec, err := chunk.Check()
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	vals, err := stub.GetMultipleStates(ballot.RollSealKey, ballot.RollChunkKey(chunk.Index))
	if err != nil {
		return "", fmt.Errorf("read roll state: %w", err)
	}
	if vals[0] != nil {
		return "", errRollSealed
	}
	if batch, err := anyBatch(ctx); err != nil || batch != "" {
		if err == nil {
			err = fmt.Errorf("batch %s is committed; the roll can no longer be loaded", batch)
		}
		return "", err
	}
	if vals[1] != nil {
		var prev ballot.RollChunkRecord
		if err := json.Unmarshal(vals[1], &prev); err != nil {
			return "", fmt.Errorf("decode stored roll chunk %d: %w", chunk.Index, err)
		}
		if prev.Root != rec.Root {
			return "", fmt.Errorf("roll chunk %d is already loaded with root %s; refusing root %s", chunk.Index, prev.Root, rec.Root)
		}
		return string(vals[1]), nil
	}
	stub.StartWriteBatch()
	for _, e := range chunk.Entries {
		if err := stub.PutState(ballot.NullifierKey(e.State, e.Nullifier), ballot.RollMark(e.Contest)); err != nil {
			return "", fmt.Errorf("write roll entry: %w", err)
		}
	}
	out, err := putJSON(ctx, ballot.RollChunkKey(chunk.Index), rec)
	if err != nil {
		return "", err
	}
	if err := stub.FinishWriteBatch(); err != nil {
		return "", fmt.Errorf("write roll chunk %d: %w", chunk.Index, err)
	}
	return out, nil
}

// SealRoll checks the loaded roll against the election's roll root and
// size (ballot.SealRoll over every loaded chunk's record, with the
// record's roll_entries; a record an earlier chaincode wrote may state no
// size, and is then held to its root alone) and, if they match,
// records the seal (JSON ballot.RollSeal, returned). From then on
// CommitBatch rejects every vote whose nullifier is not on the roll of its
// state for its contest as ballot.RejectNotOnRoll, the roll can no longer be loaded and the
// election's roll root and size no longer changed. Only a Commission admin may call
// it, and only before the first batch is committed, so that one rule holds
// for every batch of the election. Sealing again returns the seal.
func (c *BallotContract) SealRoll(ctx contractapi.TransactionContextInterface) (string, error) {
	if err := requireAdmin(ctx); err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	vals, err := stub.GetMultipleStates(ballot.RollSealKey, ballot.ElectionKey)
	if err != nil {
		return "", fmt.Errorf("read roll state: %w", err)
	}
	if vals[0] != nil {
		return string(vals[0]), nil
	}
	e, err := decodeElection(vals[1])
	if err != nil {
		return "", err
	}
	if batch, err := anyBatch(ctx); err != nil || batch != "" {
		if err == nil {
			err = fmt.Errorf("batch %s is committed; the roll can no longer be sealed", batch)
		}
		return "", err
	}
	chunks, err := loadedChunks(ctx)
	if err != nil {
		return "", err
	}
	seal, err := ballot.SealRoll(e.RollRoot, e.RollEntries, chunks)
	if err != nil {
		return "", err
	}
	now, err := c.txTime(ctx)
	if err != nil {
		return "", err
	}
	seal.TxID, seal.SealedAt = stub.GetTxID(), now.UnixMilli()
	return putJSON(ctx, ballot.RollSealKey, seal)
}

// GetRollSeal returns the roll's seal (JSON ballot.RollSeal), or a
// ballot.NotFound error while the roll is not sealed.
func (c *BallotContract) GetRollSeal(ctx contractapi.TransactionContextInterface) (string, error) {
	return getRaw(ctx, ballot.RollSealKey, ballot.NotFound("the roll is not sealed"))
}

// loadedChunks reads every loaded roll chunk's record in index order.
func loadedChunks(ctx contractapi.TransactionContextInterface) ([]ballot.RollChunkRecord, error) {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(ballot.RollChunkObject, nil)
	if err != nil {
		return nil, fmt.Errorf("read roll chunks: %w", err)
	}
	defer it.Close()
	var chunks []ballot.RollChunkRecord
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read roll chunks: %w", err)
		}
		var r ballot.RollChunkRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("decode roll chunk %q: %w", kv.Key, err)
		}
		chunks = append(chunks, r)
	}
	return chunks, nil
}

// checkRollRoot refuses an election record that changes the roll root of a
// sealed roll or states another size than the seal's (a record stating
// none, which SetupElection refuses anyway, is judged by its root).
func checkRollRoot(ctx contractapi.TransactionContextInterface, e *ballot.Election) error {
	data, err := ctx.GetStub().GetState(ballot.RollSealKey)
	if err != nil {
		return fmt.Errorf("read roll seal: %w", err)
	}
	if data == nil {
		return nil
	}
	var seal ballot.RollSeal
	if err := json.Unmarshal(data, &seal); err != nil {
		return fmt.Errorf("decode roll seal: %w", err)
	}
	if seal.Root != e.RollRoot {
		return fmt.Errorf("the roll is sealed with root %s; the election's roll root cannot become %s", seal.Root, e.RollRoot)
	}
	if e.RollEntries != nil && *e.RollEntries != seal.Voters {
		return fmt.Errorf("the roll is sealed with %d entries; the election's roll_entries cannot be %d", seal.Voters, *e.RollEntries)
	}
	return nil
}
