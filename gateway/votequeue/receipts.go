// Receipt locations: the Redis record of where each accepted vote landed on
// the ledger. The batcher writes a vote's location once its batch is
// committed VALID (and before it acknowledges the vote in the queue); the
// gateway reads it to answer receipt queries and builds the Merkle proof from
// the ledger.
//
// Key layout: receipt:<vote id> holds the JSON Location. Vote ids are 128-bit
// random, so the keys spread evenly over a Redis Cluster without a hash tag.
// A vote with no receipt key is still pending (or unknown).

package votequeue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
)

// Location says where a vote is on the ledger.
type Location struct {
	State  string `json:"state"`
	Seq    uint64 `json:"seq"`
	Index  int    `json:"index"` // leaf index in the batch
	Size   int    `json:"size"`  // votes in the batch
	TxID   string `json:"tx_id"` // transaction that committed the batch
	Block  uint64 `json:"block"`
	Status string `json:"status"`           // ballot.ReceiptCounted, ReceiptDuplicate or ReceiptRejected
	Reason string `json:"reason,omitempty"` // why the ledger rejected the vote (ballot.Reject*)
}

// ReceiptKey is the Redis key of a vote's receipt.
func ReceiptKey(voteID string) string { return "receipt:" + voteID }

// Locations derives every vote's location from a committed batch and the
// ledger's record of it (the status and reason are the record's,
// BatchRecord.Status and Reason).
func Locations(b ballot.Batch, rec ballot.BatchRecord, block uint64) map[string]Location {
	out := make(map[string]Location, len(b.Votes))
	for i, v := range b.Votes {
		out[v.ID] = Location{State: b.State, Seq: b.Seq, Index: i, Size: len(b.Votes), TxID: rec.TxID, Block: block, Status: rec.Status(i), Reason: rec.Reason(i)}
	}
	return out
}

// WriteLocations stores locations in one pipelined round trip.
func WriteLocations(ctx context.Context, rdb redis.Cmdable, locs map[string]Location) error {
	pipe := rdb.Pipeline()
	for id, loc := range locs {
		data, err := json.Marshal(loc)
		if err != nil {
			return err
		}
		if loc.Status == ballot.ReceiptCounted {
			pipe.Set(ctx, ReceiptKey(id), data, 0)
		} else {
			// A vote re-batched after a takeover shows up again as a duplicate
			// of itself; its first, counted receipt must stand.
			pipe.SetNX(ctx, ReceiptKey(id), data, 0)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("write %d receipts: %w", len(locs), err)
	}
	return nil
}

// ErrPending is returned by GetLocation for a vote with no receipt yet.
var ErrPending = errors.New("votequeue: no receipt yet")

// GetLocation reads a vote's location, or ErrPending.
func GetLocation(ctx context.Context, rdb redis.Cmdable, voteID string) (Location, error) {
	data, err := rdb.Get(ctx, ReceiptKey(voteID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Location{}, ErrPending
	}
	if err != nil {
		return Location{}, fmt.Errorf("read receipt %s: %w", voteID, err)
	}
	var loc Location
	if err := json.Unmarshal(data, &loc); err != nil {
		return Location{}, fmt.Errorf("decode receipt %s: %w", voteID, err)
	}
	return loc, nil
}
