package batcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// Batcher-private Redis keys. All keys of a partition carry its hash tag, as
// the queue's keys do, so every fenced script touches one slot.
func leaseKey(p string) string      { return "lease:{" + p + "}" }
func leaseTokenKey(p string) string { return "leasetoken:{" + p + "}" }
func seqKey(p string) string        { return "batchseq:{" + p + "}" }
func journalKey(p string) string    { return "journal:{" + p + "}" }
func deadLetterKey(p string) string { return "deadletter:{" + p + "}" }

// registryKey is the sorted set of live batcher processes: member
// "<owner> partitions=<its partitions sorted, comma-separated>"
// (registryMember), score when its liveness ends (Unix ms). See heartbeat.
const registryKey = "batchers"

// journalEntry is a batch written to the journal before it is submitted, so
// a batcher that takes the lane over resubmits exactly the same batch id.
type journalEntry struct {
	Batch     ballot.Batch
	StreamIDs []string // the stream entry of each of Batch.Votes, in order
}

// journalJSON is a journal entry as Redis keeps it: the batch's number and
// root and its votes' stream ids, delta-coded in one string (IDs:
// encodeStreamIDs; the votes stay in the stream until the batch is
// settled, and are read from there again: store.votesOf). Entries written
// before that form list the ids in StreamIDs, and the earliest hold the
// whole batch in Batch.
type journalJSON struct {
	Batch     *ballot.Batch `json:"batch,omitempty"`
	Seq       uint64        `json:"seq,omitempty"`
	Root      string        `json:"root,omitempty"`
	IDs       string        `json:"ids,omitempty"`
	StreamIDs []string      `json:"stream_ids,omitempty"`
}

// encode is the entry's compact JSON (journalJSON with IDs only).
func (j journalEntry) encode() ([]byte, error) {
	if len(j.StreamIDs) != len(j.Batch.Votes) {
		return nil, fmt.Errorf("batch %s: %d votes, %d stream ids", j.Batch.ID(), len(j.Batch.Votes), len(j.StreamIDs))
	}
	ids, err := encodeStreamIDs(j.StreamIDs)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", j.Batch.ID(), err)
	}
	return json.Marshal(journalJSON{Seq: j.Batch.Seq, Root: j.Batch.Root, IDs: ids})
}

// decodeJournal reads a journal entry of partition. An entry in the
// compact forms comes back without its votes (complete reports false).
func decodeJournal(partition string, data []byte) (j journalEntry, complete bool, err error) {
	var raw journalJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return journalEntry{}, false, err
	}
	if raw.Batch != nil {
		return journalEntry{Batch: *raw.Batch, StreamIDs: raw.StreamIDs}, true, nil
	}
	if raw.IDs != "" {
		if raw.StreamIDs, err = decodeStreamIDs(raw.IDs); err != nil {
			return journalEntry{}, false, fmt.Errorf("journal entry %s: %w", data, err)
		}
	}
	if raw.Seq == 0 || raw.Root == "" || len(raw.StreamIDs) == 0 {
		return journalEntry{}, false, fmt.Errorf("journal entry %s lacks its seq, root or stream ids", data)
	}
	return journalEntry{Batch: ballot.Batch{State: partition, Seq: raw.Seq, Root: raw.Root}, StreamIDs: raw.StreamIDs}, false, nil
}

// encodeStreamIDs writes stream ids ("<ms>-<seq>") as one string of
// comma-separated "<ms delta>.<seq>" tokens, each ms counted from the
// previous id's (the first's from 0; a delta may be negative). A batch's
// ids, read in stream order, mostly share or follow their predecessor's
// millisecond: about 4 bytes an id instead of the ~18 of a JSON list.
func encodeStreamIDs(ids []string) (string, error) {
	buf := make([]byte, 0, 5*len(ids)+16)
	var prev uint64
	for i, s := range ids {
		id, ok := parseStreamID(s)
		if !ok {
			return "", fmt.Errorf("%q is not a stream id", s)
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(id.ms-prev), 10)
		buf = strconv.AppendUint(append(buf, '.'), id.seq, 10)
		prev = id.ms
	}
	return string(buf), nil
}

// decodeStreamIDs is the inverse of encodeStreamIDs.
func decodeStreamIDs(s string) ([]string, error) {
	ids := make([]string, 0, strings.Count(s, ",")+1)
	var prev uint64
	for tok := range strings.SplitSeq(s, ",") {
		d, seq, ok := strings.Cut(tok, ".")
		delta, err1 := strconv.ParseInt(d, 10, 64)
		n, err2 := strconv.ParseUint(seq, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q is not a coded stream id", tok)
		}
		prev += uint64(delta)
		ids = append(ids, streamID{ms: prev, seq: n}.String())
	}
	return ids, nil
}

// errFenced means this process no longer holds the partition's lease.
var errFenced = errors.New("lane lease lost")

// journalScript records a batch if the caller still holds the lease.
const journalSource = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1`

var journalScript = redis.NewScript(journalSource)

// store is a lane's view of Redis.
type store struct {
	rdb       redis.UniversalClient
	partition string
	replicas  int           // Config.Replicas
	waitFor   time.Duration // Config.ReplicaTimeout
}

// read returns up to count entries after the stream id after ("0-0": from
// the start), blocking up to block for the first. XREAD leaves no trace in
// Redis: the stream itself holds every vote not yet settled (Ack deletes
// what it settles), so a lane taking a partition over reads it from the
// start.
func (s *store) read(ctx context.Context, after string, count int, block time.Duration) ([]redis.XMessage, error) {
	res, err := s.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{votequeue.StreamKey(s.partition), after},
		Count:   int64(count), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", votequeue.StreamKey(s.partition), err)
	}
	return res[0].Messages, nil
}

// nextSeq allocates the partition's next batch sequence number.
func (s *store) nextSeq(ctx context.Context) (uint64, error) {
	n, err := s.rdb.Incr(ctx, seqKey(s.partition)).Result()
	if err != nil {
		return 0, fmt.Errorf("allocate batch seq for %s: %w", s.partition, err)
	}
	return uint64(n), nil
}

// journal records a batch before submission.
func (s *store) journal(ctx context.Context, lease string, j journalEntry) error {
	data, err := j.encode()
	if err != nil {
		return err
	}
	keys := []string{leaseKey(s.partition), journalKey(s.partition)}
	args := []any{lease, strconv.FormatUint(j.Batch.Seq, 10), data}
	var ok int
	if s.replicas > 0 {
		var node *redis.Client
		if node, err = votequeue.Master(ctx, s.rdb, keys[0]); err == nil {
			var res *redis.Cmd
			if res, err = votequeue.EvalReplicated(ctx, node, journalScript, journalSource, keys, args, s.replicas, s.waitFor); err == nil {
				ok, err = res.Int()
			}
		}
	} else {
		ok, err = journalScript.Run(ctx, s.rdb, keys, args...).Int()
	}
	if err != nil {
		return fmt.Errorf("journal batch %s: %w", j.Batch.ID(), err)
	}
	if ok != 1 {
		return errFenced
	}
	return nil
}

// journaled returns the batches journaled but not yet acknowledged; those
// journaled in the compact form come without their votes (votesOf).
func (s *store) journaled(ctx context.Context) ([]journalEntry, error) {
	raw, err := s.rdb.HGetAll(ctx, journalKey(s.partition)).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal of %s: %w", s.partition, err)
	}
	out := make([]journalEntry, 0, len(raw))
	for seq, data := range raw {
		j, _, err := decodeJournal(s.partition, []byte(data))
		if err != nil {
			return nil, fmt.Errorf("journal of %s, seq %s: %w", s.partition, seq, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// votesOf completes a journaled batch read without its votes: it reads
// them from the stream, where they stay until the batch is settled, and
// rebuilds the batch, which must have the journaled root.
func (s *store) votesOf(ctx context.Context, j *journalEntry) error {
	if len(j.Batch.Votes) == len(j.StreamIDs) {
		return nil
	}
	var lo, hi streamID
	for i, id := range j.StreamIDs {
		a, ok := parseStreamID(id)
		if !ok {
			return fmt.Errorf("journaled batch %s: %q is not a stream id", j.Batch.ID(), id)
		}
		if i == 0 || a.less(lo) {
			lo = a
		}
		if i == 0 || hi.less(a) {
			hi = a
		}
	}
	msgs, err := s.rdb.XRange(ctx, votequeue.StreamKey(s.partition), lo.String(), hi.String()).Result()
	if err != nil {
		return fmt.Errorf("read the votes of journaled batch %s: %w", j.Batch.ID(), err)
	}
	byID := make(map[string]map[string]any, len(msgs))
	for _, m := range msgs {
		byID[m.ID] = m.Values
	}
	votes := make([]ballot.Vote, len(j.StreamIDs))
	for i, id := range j.StreamIDs {
		values, ok := byID[id]
		if !ok {
			return fmt.Errorf("journaled batch %s: its vote %s is not in the stream", j.Batch.ID(), id)
		}
		if votes[i], err = votequeue.Decode(values); err != nil {
			return fmt.Errorf("journaled batch %s, entry %s: %w", j.Batch.ID(), id, err)
		}
	}
	b, err := ballot.BuildBatch(s.partition, j.Batch.Seq, votes)
	if err != nil {
		return fmt.Errorf("journaled batch %s: %w", j.Batch.ID(), err)
	}
	if b.Root != j.Batch.Root {
		return fmt.Errorf("journaled batch %s: its votes in the stream have root %s, journaled %s", j.Batch.ID(), b.Root, j.Batch.Root)
	}
	j.Batch = b
	return nil
}

// deadLetter moves an entry that cannot be decoded out of the queue, keeping
// its raw fields for an operator.
func (s *store) deadLetter(ctx context.Context, msg redis.XMessage, reason error) error {
	values := map[string]any{"stream_id": msg.ID, "reason": reason.Error()}
	for k, v := range msg.Values {
		values["field_"+k] = v
	}
	pipe := s.rdb.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: deadLetterKey(s.partition), Values: values})
	pipe.XDel(ctx, votequeue.StreamKey(s.partition), msg.ID)
	_, err := pipe.Exec(ctx)
	return err
}
