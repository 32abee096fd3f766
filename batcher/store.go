package batcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// registryKey is the sorted set of live batcher processes (score: expiry, ms).
const registryKey = "batchers"

// journalEntry is a batch written to the journal before it is submitted, so
// a batcher that takes the lane over resubmits exactly the same batch id.
type journalEntry struct {
	Batch     ballot.Batch `json:"batch"`
	StreamIDs []string     `json:"stream_ids"`
}

// encode is the entry's JSON, as json.Marshal makes it, with the batch
// encoded by its MarshalJSON directly (json.Marshal would scan its output
// once more).
func (j journalEntry) encode() ([]byte, error) {
	batch, err := j.Batch.MarshalJSON()
	if err != nil {
		return nil, err
	}
	ids, err := json.Marshal(j.StreamIDs)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(batch)+len(ids)+len(`{"batch":,"stream_ids":}`))
	out = append(out, `{"batch":`...)
	out = append(out, batch...)
	out = append(out, `,"stream_ids":`...)
	out = append(out, ids...)
	return append(out, '}'), nil
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

// journaled returns the batches journaled but not yet acknowledged.
func (s *store) journaled(ctx context.Context) ([]journalEntry, error) {
	raw, err := s.rdb.HGetAll(ctx, journalKey(s.partition)).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal of %s: %w", s.partition, err)
	}
	out := make([]journalEntry, 0, len(raw))
	for seq, data := range raw {
		var j journalEntry
		if err := json.Unmarshal([]byte(data), &j); err != nil {
			return nil, fmt.Errorf("journal of %s, seq %s: %w", s.partition, seq, err)
		}
		out = append(out, j)
	}
	return out, nil
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
