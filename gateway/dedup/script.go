package dedup

// The intake script's call (script.lua): its keys and arguments encoded
// from a batch of attempts, its answers decoded into Results.

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

//go:embed script.lua
var scriptSource string

// call runs the script in mode for the attempts of batch, one section per
// partition (whose shapes are known: Accept fetched them).
func (d *Deduper) call(ctx context.Context, mode string, batch []*pending) ([]Result, error) {
	// order[i] is the batch index of the script's i-th vote: the batch
	// grouped by partition, in the order the partitions first appear.
	order := make([]int, 0, len(batch))
	var parts []string
	for _, pe := range batch {
		if st := pe.attempt.Vote.State; !slices.Contains(parts, st) {
			parts = append(parts, st)
		}
	}
	shapes := make([]shape, len(parts))
	keys := make([]string, 0, 5*len(parts)+len(batch))
	names := votequeue.Names()
	logOn := 1
	if d.cfg.NoLog {
		logOn = 0
	}
	args := make([]any, 0, 12+3*len(parts)+perVoteArgs*len(batch))
	args = append(args, mode, d.cfg.ReviewMaxLen)
	for _, n := range names {
		args = append(args, n)
	}
	args = append(args, votequeue.FieldsVersion, logOn, len(parts))
	// One buffer for every per-vote argument of all votes (compact entry,
	// request id, Bloom positions), each passed as a pointer to its slice
	// (rawArg): boxing a pointer allocates nothing, so the call allocates
	// per batch, not per vote and argument.
	size, nfields := 0, 0
	for i, st := range parts {
		var err error
		if shapes[i], err = d.shape(ctx, st); err != nil {
			return nil, err
		}
	}
	for _, pe := range batch {
		v, k := pe.attempt.Vote, shapes[slices.Index(parts, pe.attempt.Vote.State)].bloom.Hashes
		size += 4*k + len(pe.attempt.RequestID) + votequeue.LogEntrySize(v)
		nfields += perVoteArgs
	}
	buf := make([]byte, 0, size)
	fields := make([]rawArg, 0, nfields)
	field := func(start int) int { // the bytes since start are the next argument
		fields = append(fields, buf[start:len(buf):len(buf)])
		return len(buf)
	}
	positions := make([]uint64, 0, 32)
	for i, st := range parts {
		p, roll := shapes[i].bloom, shapes[i].roll
		keys = append(keys, votequeue.BloomKey(st), votequeue.StreamKey(st), votequeue.DupesKey(st), votequeue.ReviewKey(st), votequeue.LogKey(st))
		n := 0
		for j, pe := range batch {
			if pe.attempt.Vote.State == st {
				order = append(order, j)
				n++
			}
		}
		// The section's header (k, n, state) goes before its votes' fields.
		for _, a := range [...]any{p.Hashes, n, st} {
			args = append(args, a)
		}
		for _, j := range order[len(order)-n:] {
			v := batch[j].attempt.Vote
			raw, err := ballot.ParseHash(v.Nullifier)
			if err != nil {
				return nil, fmt.Errorf("dedup: %w", err)
			}
			keys = append(keys, roll.Key(raw[:]))
			first := len(fields)
			start := len(buf)
			if buf, err = votequeue.AppendLogEntry(buf, v); err != nil {
				return nil, fmt.Errorf("dedup: %w", err)
			}
			start = field(start)
			buf = append(buf, batch[j].attempt.RequestID...)
			start = field(start)
			// The positions in one argument, 4 bytes each (bloom.MaxBits is
			// 2^32), which the script reads only where a filter exists.
			for _, pos := range p.Positions(positions[:0], raw[:]) {
				buf = binary.BigEndian.AppendUint32(buf, uint32(pos))
			}
			field(start)
			for f := first; f < len(fields); f++ {
				args = append(args, &fields[f])
			}
		}
	}
	var answer any
	var err error
	if _, cluster := d.rdb.(*redis.ClusterClient); cluster || d.cfg.Replicas > 0 {
		// On a Cluster always on the slot's master's own client: the
		// cluster client would send the script again after a dropped
		// connection, whatever its MaxRetries (see runReplicated).
		answer, err = d.runReplicated(ctx, keys, args)
	} else {
		ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
		defer cancel()
		answer, err = d.script.Run(ctx, d.rdb, keys, args...).Result()
	}
	if errors.Is(err, redis.Nil) { // Redis's answer to a script that returns nil
		return nil, brokeContract("it answered nil for %d votes", len(batch))
	}
	if err != nil {
		return nil, fmt.Errorf("dedup: %s call for %d votes of %s: %w", mode, len(batch), strings.Join(parts, ","), err)
	}
	reply, ok := answer.([]any)
	if !ok {
		return nil, brokeContract("it answered %T, not an array, for %d votes", answer, len(batch))
	}
	if len(reply) != 3*len(batch) {
		return nil, brokeContract("it answered %d values for %d votes", len(reply), len(batch))
	}
	results := make([]Result, len(batch))
	for i := range len(batch) {
		j := order[i]
		if results[j], err = parseResult(reply[3*i:3*i+3], logOn == 1); err != nil {
			return nil, err
		}
		if res := results[j]; d.cfg.Logged != nil && res.Outcome == Accepted && res.LogIndex >= 0 {
			v := batch[j].attempt.Vote
			leaf, err := v.Leaf()
			if err != nil {
				return nil, fmt.Errorf("dedup: %w", err)
			}
			d.cfg.Logged(v.State, res.LogIndex, leaf)
		}
	}
	return results, nil
}

// perVoteArgs is how many script arguments each vote of a call has: its
// compact entry, from which the script takes the raw vote id and nullifier
// and, for a refusal, the review entry's fields, its request id and its
// Bloom positions (4 bytes each).
const perVoteArgs = 3

// rawArg is a script argument sent as it is (go-redis writes an
// encoding.BinaryMarshaler's bytes).
type rawArg []byte

func (a *rawArg) MarshalBinary() ([]byte, error) { return *a, nil }

// ErrScriptContract means the intake script (script.lua) answered what its
// contract rules out: not an array of three values a vote, an unknown
// status word, a value of the wrong type, a log index at odds with the
// intake log's setting. That is a bug, a broken invariant or a script of
// another version, not Redis failing; the script ran, so the call's votes
// may or may not be stored. Its errors name the types of the values, not
// the values (see parseResult), and no vote id.
var ErrScriptContract = errors.New("dedup: the intake script broke its contract")

// brokeContract is an ErrScriptContract error saying what the script
// answered (format, a: never a value of a vote).
func brokeContract(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrScriptContract, fmt.Sprintf(format, a...))
}

// parseResult decodes one vote's answer of the script: status, value, log
// index (-1 unless logOn, the intake log on). Its errors
// (ErrScriptContract) name the types of r's values, not the values (a
// vote's stream entry id and log index), and an unknown status word of a
// few lowercase letters (a script of another version): a call's error is
// logged with the request's id of each vote of the call, which the access
// log ties to its client's address.
func parseResult(r []any, logOn bool) (Result, error) {
	status, _ := r[0].(string)
	switch status {
	case "ok":
		id, ok1 := r[1].(string)
		index, ok2 := r[2].(int64)
		if !ok1 || !ok2 {
			return Result{}, brokeContract("a malformed accept result of types %s", replyTypes(r))
		}
		if logOn && index < 0 {
			return Result{}, brokeContract("an accept result without a log index, the intake log on")
		}
		if !logOn && index != -1 {
			return Result{}, brokeContract("an accept result with a log index, the intake log off")
		}
		return Result{Outcome: Accepted, EntryID: id, LogIndex: index}, nil
	case "ne":
		return Result{Outcome: NotEligible}, nil
	case "dup":
		n, ok := r[1].(int64)
		if !ok {
			return Result{}, brokeContract("a malformed duplicate result of types %s", replyTypes(r))
		}
		if n < 1 {
			return Result{}, brokeContract("a duplicate result counting no attempt")
		}
		return Result{Outcome: Duplicate, Attempts: n}, nil
	case "maybe":
		return Result{BloomMaybe: true}, nil
	}
	if scriptWord(status) { // a script of another version: its word says which
		return Result{}, brokeContract("an unknown status %q in a result of types %s", status, replyTypes(r))
	}
	return Result{}, brokeContract("an unknown status in a result of types %s", replyTypes(r))
}

// scriptWord reports whether s looks like a status word of the script (a
// few lowercase letters), not a value of a vote put in its place.
func scriptWord(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// replyTypes is the types of r's values, as fmt's %T writes them: "[string
// int64 <nil>]".
func replyTypes(r []any) string {
	types := make([]string, len(r))
	for i, v := range r {
		types[i] = fmt.Sprintf("%T", v)
	}
	return "[" + strings.Join(types, " ") + "]"
}
