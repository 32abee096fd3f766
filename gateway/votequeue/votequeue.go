// Package votequeue is the contract between the gateway, which accepts votes,
// and the batcher, which drains them onto the ledger: the Redis key names and
// the encoding of a vote as a Redis stream entry. Both sides import this
// package; nothing else may spell these names.
//
// # Partitions and hash tags
//
// Every key belongs to one partition (a state such as "CA", or a sub-shard
// such as "CA#3") and carries the partition in a Redis Cluster hash tag, so
// every key one vote touches lives in the same slot and one Lua script can
// update them atomically:
//
//	votes:{CA}            stream of accepted votes (StreamKey)
//	claim:{CA}:<nullhex>  pending claim of a nullifier; value = vote id (ClaimKey)
//	bloom:{CA}            Bloom filter bitmap of nullifiers ever accepted (BloomKey)
//	bloom:{CA}:params     "bits,hashes" of that filter, set once (BloomParamsKey)
//	roll:{CA}             set of eligible nullifiers, raw 32 bytes (RollKey)
//	dupes:{CA}            hash nullifier hex -> duplicate attempts (DupesKey)
//	review:{CA}           stream of refused attempts for human review (ReviewKey)
//	lag:{CA}              age in ms of the oldest vote not yet committed, set by the batcher (LagKey)
//
// A review entry has the fields "reason" ("not_eligible" or "duplicate") and
// "request_id" (the gateway request that was refused), followed by the
// attempted vote's fields as below; it is capped with XADD MAXLEN ~.
//
// # Stream entries
//
// Each entry of votes:{CA} has exactly these fields (see Fields and Decode):
//
//	v          encoding version, "1"
//	vote_id    32 lower-case hex characters (ballot.ValidVoteID)
//	state      the partition's state, equal to the one in the key's hash tag
//	nullifier  64 lower-case hex characters
//	candidate  candidate name as listed in the election record
//	cast_at    acceptance time, decimal Unix milliseconds
//
// # Life cycle
//
// The gateway writes the claim and the entry in one atomic script and answers
// 202 only after Redis has both on disk. The batcher reads the stream through
// the consumer group Group (created at ID 0 by whichever side comes first, see
// EnsureGroup, so no entry is ever skipped), acknowledges an entry with XACK and
// deletes it with XDEL only after its batch is committed VALID on the ledger,
// and then deletes the entry's claim key. A claim therefore exists for every
// accepted vote that is not yet on the ledger; its TTL is only a safety net and
// must outlast the election.
package votequeue

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
)

// Group is the consumer group through which batchers read every vote stream.
const Group = "batcher"

// Version is the value of the "v" field of entries written by this package.
const Version = "1"

// Entry field names.
const (
	FieldVersion   = "v"
	FieldVoteID    = "vote_id"
	FieldState     = "state"
	FieldNullifier = "nullifier"
	FieldCandidate = "candidate"
	FieldCastAt    = "cast_at"
)

// names lists the entry fields in the order Fields writes them.
var names = [...]string{FieldVersion, FieldVoteID, FieldState, FieldNullifier, FieldCandidate, FieldCastAt}

// tag returns the Redis Cluster hash tag of a partition.
func tag(partition string) string { return "{" + partition + "}" }

// StreamKey is the stream holding accepted votes of a partition.
func StreamKey(partition string) string { return "votes:" + tag(partition) }

// ClaimKey is the pending claim of a nullifier (64 hex) in a partition.
func ClaimKey(partition, nullifierHex string) string {
	return "claim:" + tag(partition) + ":" + nullifierHex
}

// ClaimPattern matches every claim key of a partition (for SCAN).
func ClaimPattern(partition string) string { return "claim:" + tag(partition) + ":*" }

// BloomKey is the Bloom filter bitmap of a partition.
func BloomKey(partition string) string { return "bloom:" + tag(partition) }

// BloomParamsKey holds the Bloom filter's size as "bits,hashes".
func BloomParamsKey(partition string) string { return "bloom:" + tag(partition) + ":params" }

// RollKey is the set of eligible nullifiers (raw 32 bytes) of a partition.
func RollKey(partition string) string { return "roll:" + tag(partition) }

// DupesKey is the hash counting duplicate attempts per nullifier.
func DupesKey(partition string) string { return "dupes:" + tag(partition) }

// ReviewKey is the stream of refused attempts (ineligible or duplicate).
func ReviewKey(partition string) string { return "review:" + tag(partition) }

// Fields encodes a vote as the field/value list of a stream entry, in the
// order XADD takes them.
func Fields(v ballot.Vote) []string {
	return []string{
		FieldVersion, Version,
		FieldVoteID, v.ID,
		FieldState, v.State,
		FieldNullifier, v.Nullifier,
		FieldCandidate, v.Candidate,
		FieldCastAt, strconv.FormatInt(v.CastAt, 10),
	}
}

// Decode turns the values of a stream entry (as go-redis returns them in
// redis.XMessage.Values) back into a vote and validates its form, so a batcher
// never commits a malformed entry.
func Decode(values map[string]any) (ballot.Vote, error) {
	var fields [len(names)]string
	for i, name := range names {
		raw, ok := values[name]
		if !ok {
			return ballot.Vote{}, fmt.Errorf("votequeue: entry lacks field %q", name)
		}
		s, ok := raw.(string)
		if !ok {
			return ballot.Vote{}, fmt.Errorf("votequeue: field %q is %T, not a string", name, raw)
		}
		fields[i] = s
	}
	if fields[0] != Version {
		return ballot.Vote{}, fmt.Errorf("votequeue: unknown entry version %q", fields[0])
	}
	castAt, err := strconv.ParseInt(fields[5], 10, 64)
	if err != nil {
		return ballot.Vote{}, fmt.Errorf("votequeue: cast_at: %w", err)
	}
	v := ballot.Vote{ID: fields[1], State: fields[2], Nullifier: fields[3], Candidate: fields[4], CastAt: castAt}
	if err := v.Validate(); err != nil {
		return ballot.Vote{}, fmt.Errorf("votequeue: %w", err)
	}
	return v, nil
}

// EnsureGroup creates the consumer group of a partition's stream at ID 0 (and
// the stream itself if need be) unless it exists. Both the gateway and the
// batcher call it, so the group always starts before the first vote.
func EnsureGroup(ctx context.Context, rdb redis.Cmdable, partition string) error {
	err := rdb.XGroupCreateMkStream(ctx, StreamKey(partition), Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("votequeue: create group on %s: %w", StreamKey(partition), err)
	}
	return nil
}
