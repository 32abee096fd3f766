// Receipt locations: the Redis record of where each accepted vote landed on
// the ledger. The batcher writes a batch's locations once it is committed
// VALID (and before it acknowledges the votes in the queue); the gateway
// reads a vote's location to answer receipt queries and builds the Merkle
// proof from the ledger.
//
// Key layout, compact (about 35 bytes per vote instead of a JSON string key
// of about 250):
//
//	receipt:<4 hex>         hash: raw vote id (16 bytes) -> "<partition> <seq> <index>[ <status>[ <reason>]]" (ReceiptKey)
//	receipt:{CA}:batches    hash: batch seq -> "<block> <size> <tx id>", once per batch (BatchesKey)
//
// A vote's field lives in the bucket named by the first four hex characters
// of its id (65,536 buckets; vote ids are 128-bit random, so the buckets
// fill evenly and spread over a Redis Cluster without a hash tag). Up to
// about 25 million committed votes a bucket holds fewer than Redis's
// hash-max-listpack-entries (512 by default) fields and stays a listpack;
// beyond that buckets turn into hash tables, still exact, at about 100
// bytes per vote.
// The status is left out for a counted vote. What a batch's votes share
// (transaction, block, size) is stored once in its partition's batches hash.
// A vote with no field, or whose batch has no entry yet, is still pending
// (or unknown). Receipts written as one JSON key per vote
// ("receipt:<vote id>", before this layout) are not read.

package votequeue

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

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

// ReceiptKey is the Redis key of the bucket holding a vote's location
// (voteID must be a valid vote id, ballot.ValidVoteID).
func ReceiptKey(voteID string) string { return "receipt:" + voteID[:4] }

// BatchesKey is the hash of a partition's committed batches: seq -> what
// the locations of its votes share.
func BatchesKey(partition string) string { return "receipt:" + tag(partition) + ":batches" }

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

// receiptField is a vote's field in its bucket: the id's raw bytes.
func receiptField(voteID string) (string, error) {
	if !ballot.ValidVoteID(voteID) {
		return "", fmt.Errorf("votequeue: %q is not a vote id", voteID)
	}
	raw, _ := hex.DecodeString(voteID)
	return string(raw), nil
}

// WriteReceipts stores the locations of a batch committed in block, as the
// ledger's record of it says, in one pipelined round trip: the batch's
// shared part, then one HSET per bucket for the counted votes and HSETNX
// for the others (a vote re-batched after a takeover shows up again as a
// duplicate of itself; its first, counted receipt must stand).
func WriteReceipts(ctx context.Context, rdb redis.Cmdable, b ballot.Batch, rec ballot.BatchRecord, block uint64) error {
	seq := strconv.FormatUint(b.Seq, 10)
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, BatchesKey(b.State), seq, strconv.FormatUint(block, 10)+" "+strconv.Itoa(len(b.Votes))+" "+rec.TxID)
	counted := map[string][]any{}
	prefix := b.State + " " + seq + " "
	for i, v := range b.Votes {
		field, err := receiptField(v.ID)
		if err != nil {
			return err
		}
		val := prefix + strconv.Itoa(i)
		if status := rec.Status(i); status != ballot.ReceiptCounted {
			val += " " + status
			if reason := rec.Reason(i); reason != "" {
				val += " " + reason
			}
			pipe.HSetNX(ctx, ReceiptKey(v.ID), field, val)
			continue
		}
		counted[ReceiptKey(v.ID)] = append(counted[ReceiptKey(v.ID)], field, val)
	}
	for key, pairs := range counted {
		pipe.HSet(ctx, key, pairs...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("write the receipts of batch %s: %w", b.ID(), err)
	}
	return nil
}

// ErrPending is returned by GetLocation for a vote with no receipt yet.
var ErrPending = errors.New("votequeue: no receipt yet")

// GetLocation reads a vote's location (two reads: the vote's field, then
// its batch's), or ErrPending. Its errors do not name the vote, nor where
// in its batch it is: the gateway logs them with the request's id, which
// its access log ties to the client's address.
func GetLocation(ctx context.Context, rdb redis.Cmdable, voteID string) (Location, error) {
	field, err := receiptField(voteID)
	if err != nil {
		return Location{}, err
	}
	val, err := rdb.HGet(ctx, ReceiptKey(voteID), field).Result()
	if errors.Is(err, redis.Nil) {
		return Location{}, ErrPending
	}
	if err != nil {
		return Location{}, fmt.Errorf("read a vote's receipt: %w", err)
	}
	var loc Location
	parts := strings.SplitN(val, " ", 5)
	if len(parts) < 3 {
		return Location{}, fmt.Errorf("a vote's receipt is malformed: %d fields, want 3 to 5", len(parts))
	}
	loc.State, loc.Status = parts[0], ballot.ReceiptCounted
	seq, err1 := strconv.ParseUint(parts[1], 10, 64)
	index, err2 := strconv.Atoi(parts[2])
	if err := errors.Join(err1, err2); err != nil {
		return Location{}, fmt.Errorf("a vote's receipt is malformed: %w", err)
	}
	loc.Seq, loc.Index = seq, index
	if len(parts) > 3 {
		loc.Status = parts[3]
	}
	if len(parts) > 4 {
		loc.Reason = parts[4]
	}
	batch, err := rdb.HGet(ctx, BatchesKey(loc.State), parts[1]).Result()
	if errors.Is(err, redis.Nil) {
		return Location{}, ErrPending // the batch's part is written first: a write in progress
	}
	if err != nil {
		return Location{}, fmt.Errorf("read batch %s/%d of a vote's receipt: %w", loc.State, seq, err)
	}
	parts = strings.SplitN(batch, " ", 3)
	if len(parts) != 3 {
		return Location{}, fmt.Errorf("batch %s/%d: malformed %q", loc.State, seq, batch)
	}
	block, err1 := strconv.ParseUint(parts[0], 10, 64)
	size, err2 := strconv.Atoi(parts[1])
	if err := errors.Join(err1, err2); err != nil {
		return Location{}, fmt.Errorf("batch %s/%d: %w", loc.State, seq, err)
	}
	loc.Block, loc.Size, loc.TxID = block, size, parts[2]
	return loc, nil
}

// Receipted reports, for each vote id, whether its location is recorded
// (one pipelined round trip).
func Receipted(ctx context.Context, rdb redis.Cmdable, voteIDs []string) ([]bool, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, len(voteIDs))
	for i, id := range voteIDs {
		field, err := receiptField(id)
		if err != nil {
			return nil, err
		}
		cmds[i] = pipe.HExists(ctx, ReceiptKey(id), field)
	}
	if _, err := pipe.Exec(ctx); err != nil && len(voteIDs) > 0 {
		return nil, fmt.Errorf("votequeue: look receipts up: %w", err)
	}
	out := make([]bool, len(voteIDs))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// ReceiptBuckets is the SCAN pattern of the receipt buckets.
const ReceiptBuckets = "receipt:????"

// CountReceipts returns how many votes have a recorded location (a scan of
// every bucket, on every master of a cluster: for tests and measurements,
// not for serving).
func CountReceipts(ctx context.Context, rdb redis.Cmdable) (int64, error) {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		var total int64
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := CountReceipts(ctx, node)
			mu.Lock()
			total += n
			mu.Unlock()
			return err
		})
		return total, err
	}
	var keys []string
	iter := rdb.Scan(ctx, 0, ReceiptBuckets, 10000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return 0, fmt.Errorf("votequeue: scan receipts: %w", err)
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HLen(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && len(keys) > 0 {
		return 0, fmt.Errorf("votequeue: count receipts: %w", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}
