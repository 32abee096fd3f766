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
//	roll:{CA}:<hex>       hash: a shard of the roll, raw nullifier -> "0" not voted, else voted (Roll.Key)
//	roll:{CA}:shards      the roll's shard bits, set once (RollShardsKey)
//	bloom:{CA}            Bloom filter bitmap of the ledger's nullifiers, set by a rebuild only, none in normal running (BloomKey; see below)
//	bloom:{CA}:params     "bits,hashes" of that filter, set once (BloomParamsKey)
//	dupes:{CA}            hash nullifier hex -> duplicate attempts (DupesKey)
//	review:{CA}           stream of refused attempts for human review (ReviewKey)
//	lag:{CA}              age in ms of the oldest vote not yet committed, set by the batcher (LagKey)
//	log:{CA}              list: the intake log, every accepted vote in acceptance order, compact (LogKey)
//	loghead:{CA}          the log's latest signed tree head, JSON ballot.TreeHead (HeadKey)
//	receipt:{CA}:batches  hash batch seq -> what its votes' receipts share (BatchesKey)
//	receipt:<4 hex>       hash raw vote id -> receipt location, no hash tag (ReceiptKey; receipts.go)
//
// A review entry has the fields "reason" ("not_eligible" or "duplicate") and
// "request_id" (the gateway request that was refused), followed by the
// attempted vote's fields as below; it is capped with XADD MAXLEN ~.
//
// # The roll and the "already voted" record
//
// The roll is split into 2^b hashes (Roll), a nullifier in the shard
// roll:{CA}:<hex> its first b bits name, b fixed when the roll is first
// loaded (EnsureRoll, RollBits: about 128 nullifiers a shard, so every
// shard stays a listpack of ~36 bytes a member however many have voted;
// at most 65,536 shards). The roll loader puts every eligible nullifier in
// its shard as "0" (Enroll, HSETNX: never resetting one that voted).
// Accepting a vote turns its "0" into the vote's id, 16 raw bytes
// (AppendRawVoteID), in the intake script (HGET, then HSET, atomic inside
// the script), which is at once the eligibility check, the exact duplicate
// check and the claim: it succeeds for exactly one of any number of
// concurrent attempts. A nullifier recorded as voted from the ledger
// (MarkVoted, the intake's exact check) holds "1" instead. A nullifier is
// on the roll if it is a field of its shard, and has voted if and only if
// its value is not "0". The record is permanent and costs about 16 bytes a
// voter beyond the roll's own, so a re-sent vote is answered from Redis
// alone at any time, before or after its commit, and a voter's vote id is
// found from the nullifier (AcceptedVote). The gateway sets no Bloom bits:
// a partition has a filter only once the ledger's nullifiers were loaded
// into it (dedup.Rebuild, after a Redis lost its data), and the ledger is
// asked only when that filter says "maybe seen" of a nullifier still "0": a
// roll loaded again after the rebuild, or a false positive. (A
// Redis holding the roll as the sets roll:{CA} and voted:{CA} of earlier
// versions is refused, EnsureRoll: wipe it and load the roll again.)
//
// The votes not yet acknowledged by the batcher are the entries of the
// partition's stream (Ack deletes what it acknowledges; PendingCounts).
// Gateways before this layout also kept them in a hash pending:{CA}, raw
// nullifier -> vote id, which nothing reads any more.
//
// # The intake log
//
// log:{CA} is the state's append-only intake log (see ballot.LogTree): the
// same script call that accepts votes appends them with one RPUSH, so a vote
// is in the log exactly when it is in the stream, and its index (the list
// position) comes back with its 202. Entry i is leaf i of the log's RFC 6962
// tree, whose leaf hash is the vote's Merkle leaf (ballot.Vote.Leaf, over
// its canonical encoding ballot.Vote.Encode). Redis keeps each entry compact
// (AppendLogEntry: no state, which the key names; id and nullifier as raw
// bytes; about 70 bytes instead of the encoding's 130), and LogEntries
// gives back the canonical encodings, which is what the log's readers
// (gateway/intakelog, its HTTP routes, explorer/logmonitor, verify --log)
// hash and serve. Nothing ever removes an entry: the log outlives the
// stream entries, which the batcher deletes once committed. A signer
// (gateway/intakelog) publishes the log's signed tree head under
// loghead:{CA}, replacing it only with a larger one (PublishHead), or
// with the same head (size and root) signed again, stamped later or
// earlier, for the ledger to anchor (RepublishHead). The head stored then
// has the size and root of the one the ledger holds of that size, not
// necessarily its stamp: gateways sharing a signing key may each sign a
// size again, and one taking over another key's head anchors its own of
// that size and root, leaving the stored one. The publishing script
// answers (Publication):
//
//	1  stored, or stored already byte for byte (HeadStored)
//	0  not stored: the stored head is of a larger log (HeadLarger)
//	2  not stored: a head of its size is stored, stamped or signed
//	   otherwise, or of another root (HeadSameSize)
//
// Only on 2 may the stored head be of use to the signer (gateway/intakelog
// reads it then to anchor a head its key signed: after a restart, one
// signed before it; and, when the ledger still has not anchored that size
// a while after the refusal, or at once in the signer's closing round at
// a stop, one a gateway sharing its key stored and did not anchor, or its
// own stored with the script's answer lost: the take-over, which also
// takes one of its log's size and root that another key signed and no
// gateway anchored, anchoring its own head of them and publishing none;
// gateways
// stopped together each anchor the stored last heads, all but the first
// anchor to commit being read conflicts or no-op repeats).
//
// # Stream entries
//
// The gateway writes each entry of votes:{CA} in the compact form, one
// field: the vote's state names the field, and its value is the vote as the
// intake log keeps it (AppendLogEntry, which starts with a tag byte no
// other form's value starts with). Per vote that is 8 bytes of field in
// the AOF's XADD instead of the 40 of version 3's three fields ("v" "3",
// "state" <state>, "e" <entry>), which Decode still reads, as it reads the
// field form, version "2", which review entries use and stream entries had
// before that; it has exactly these fields (see Fields):
//
//	v          encoding version, "2"
//	vote_id    32 lower-case hex characters (ballot.ValidVoteID)
//	state      the partition's state, equal to the one in the key's hash tag
//	contest    the contest's id as listed in the election record
//	nullifier  64 lower-case hex characters: the voter's nullifier in the contest
//	choice     one of the contest's choices
//	cast_at    acceptance time, decimal Unix milliseconds
//
// # Life cycle and cost
//
// The gateway marks the nullifier voted on the roll and appends the entry to the stream and the log, in one atomic script for a
// micro-batch of votes, and answers 202 only after Redis has it on disk. The
// batcher reads the stream with XREAD, which writes nothing (a consumer
// group's XREADGROUP would write an XCLAIM per entry to the AOF), writes the
// receipts of a batch committed VALID on the ledger and then calls Ack,
// which deletes the batch's entries: those below the floor the batcher
// gives (every entry below it is settled) with one XTRIM MINID, the rest
// (a batch settled before an older one) with XDEL. The stream thus holds exactly
// the votes not yet settled, and a batcher taking a partition over reads it
// from its start. Per accepted vote Redis thus runs HGET and HSET on the
// roll's shard, XADD, a share of one RPUSH at intake, XREAD's share, about
// one receipt HSET (one per bucket a batch touches), and a share of the
// acknowledging call's XTRIM. Nothing creates a consumer group: gateways
// of earlier versions created one named "batcher" on every stream, which
// batchers before XREAD read through; on a Redis kept from then it stays,
// unread.
package votequeue

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/votechain/votechain/ballot"
)

// ValidPartition reports whether p is a partition (see "Partitions and hash
// tags"): a state code (ballot.ValidState) or a sub-shard of one, the state,
// "#" and a number in decimal without sign or leading zeros ("CA#3").
func ValidPartition(p string) bool {
	state, sub, isSub := strings.Cut(p, "#")
	if !isSub {
		return ballot.ValidState(state)
	}
	n, err := strconv.Atoi(sub)
	return ballot.ValidState(state) && err == nil && n >= 0 && strconv.Itoa(n) == sub
}

// Version is the "v" field of stream entries in the compact form of
// three fields, which gateways wrote before the one-field form (Entry).
const Version = "3"

// FieldsVersion is the "v" field of entries in the field form (Fields):
// review entries, and stream entries written before the compact form.
const FieldsVersion = "2"

// FieldEntry is the compact form's field holding the vote (AppendLogEntry).
const FieldEntry = "e"

// Entry field names.
const (
	FieldVersion   = "v"
	FieldVoteID    = "vote_id"
	FieldState     = "state"
	FieldContest   = "contest"
	FieldNullifier = "nullifier"
	FieldChoice    = "choice"
	FieldCastAt    = "cast_at"
)

// names lists the entry fields in the order Fields writes them.
var names = [...]string{FieldVersion, FieldVoteID, FieldState, FieldContest, FieldNullifier, FieldChoice, FieldCastAt}

// Names returns the entry field names in the order Fields writes them.
func Names() [len(names)]string { return names }

// tag returns the Redis Cluster hash tag of a partition.
func tag(partition string) string { return "{" + partition + "}" }

// StreamKey is the stream holding accepted votes of a partition.
func StreamKey(partition string) string { return "votes:" + tag(partition) }

// BloomKey is the Bloom filter bitmap of a partition.
func BloomKey(partition string) string { return "bloom:" + tag(partition) }

// BloomParamsKey holds the Bloom filter's size as "bits,hashes".
func BloomParamsKey(partition string) string { return "bloom:" + tag(partition) + ":params" }

// DupesKey is the hash counting duplicate attempts per nullifier.
func DupesKey(partition string) string { return "dupes:" + tag(partition) }

// ReviewKey is the stream of refused attempts (ineligible or duplicate).
func ReviewKey(partition string) string { return "review:" + tag(partition) }

// LogKey is the intake log of a partition: a list of encoded votes.
func LogKey(partition string) string { return "log:" + tag(partition) }

// HeadKey holds the latest signed tree head of a partition's log.
func HeadKey(partition string) string { return "loghead:" + tag(partition) }

// Fields encodes a vote as the field/value list of a stream entry, in the
// order XADD takes them.
func Fields(v ballot.Vote) []string {
	return []string{
		FieldVersion, FieldsVersion,
		FieldVoteID, v.ID,
		FieldState, v.State,
		FieldContest, v.Contest,
		FieldNullifier, v.Nullifier,
		FieldChoice, v.Choice,
		FieldCastAt, strconv.FormatInt(v.CastAt, 10),
	}
}

// Entry is the field and value of v's stream entry in the compact form
// the gateway writes (one field, see the package comment, "Stream
// entries"), in the order XADD takes them.
func Entry(v ballot.Vote) ([]string, error) {
	e, err := AppendLogEntry(nil, v)
	if err != nil {
		return nil, err
	}
	return []string{v.State, string(e)}, nil
}

// Decode turns the values of a stream entry (as go-redis returns them in
// redis.XMessage.Values), in any of its forms, back into a vote and validates
// its form, so a batcher never commits a malformed entry.
func Decode(values map[string]any) (ballot.Vote, error) {
	if len(values) == 1 {
		for state, raw := range values {
			e, ok := raw.(string)
			if !ok || len(e) == 0 || e[0] != logEntryTag {
				return ballot.Vote{}, fmt.Errorf("votequeue: one-field entry %q is not a compact vote", state)
			}
			v, err := DecodeLogEntry(state, []byte(e))
			if err != nil {
				return ballot.Vote{}, fmt.Errorf("votequeue: %w", err)
			}
			return v, nil
		}
	}
	if values[FieldVersion] == Version {
		state, ok1 := values[FieldState].(string)
		e, ok2 := values[FieldEntry].(string)
		if !ok1 || !ok2 || len(values) != 3 {
			return ballot.Vote{}, fmt.Errorf("votequeue: compact entry has fields %v", slices.Sorted(maps.Keys(values)))
		}
		v, err := DecodeLogEntry(state, []byte(e))
		if err != nil {
			return ballot.Vote{}, fmt.Errorf("votequeue: %w", err)
		}
		return v, nil
	}
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
	if fields[0] != FieldsVersion {
		return ballot.Vote{}, fmt.Errorf("votequeue: unknown entry version %q", fields[0])
	}
	castAt, err := strconv.ParseInt(fields[6], 10, 64)
	if err != nil {
		return ballot.Vote{}, fmt.Errorf("votequeue: cast_at: %w", err)
	}
	v := ballot.Vote{ID: fields[1], State: fields[2], Contest: fields[3], Nullifier: fields[4], Choice: fields[5], CastAt: castAt}
	if err := v.Validate(); err != nil {
		return ballot.Vote{}, fmt.Errorf("votequeue: %w", err)
	}
	return v, nil
}
