package intakelog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// failLaterReads is a go-redis hook that fails every LRANGE after the
// first: the read of the log past a vote's entry, after its own.
type failLaterReads struct{ n atomic.Int32 }

func (h *failLaterReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *failLaterReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "lrange" && h.n.Add(1) > 1 {
			err := errors.New("i/o timeout")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (h *failLaterReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestAcceptanceErrorsNameNoVote: each way Acceptance fails (the log or
// its head unreadable, the vote's entry malformed, the log unreadable past
// the entry, the log not giving its head's root) is an error that names
// neither the vote nor its index: the gateway logs it with the request's
// id, which its access log ties to the client's address, and the public
// log gives the vote at an index. Before, the errors of the log's reads
// named the index (a range from it, or the entry), and those of a
// malformed entry the vote's id.
func TestAcceptanceErrorsNameNoVote(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	const index = 41
	namesIndex := regexp.MustCompile(`(^|\D)41(\D|$)`)
	head := func(root string) error {
		_, err := votequeue.PublishHead(ctx, rdb, ballot.TreeHead{State: "CA", Size: 50, Root: root})
		return err
	}
	for _, c := range []struct {
		what      string
		spoil     func(v ballot.Vote, l *Log) error
		failLater bool
	}{
		{"log of another type", func(ballot.Vote, *Log) error {
			return errors.Join(rdb.Del(ctx, votequeue.LogKey("CA")).Err(), rdb.Set(ctx, votequeue.LogKey("CA"), "x", 0).Err())
		}, false},
		{"entry cut short", func(v ballot.Vote, _ *Log) error {
			entry, _ := votequeue.AppendLogEntry(nil, v)
			return rdb.LSet(ctx, votequeue.LogKey("CA"), index, entry[:len(entry)-2]).Err()
		}, false},
		{"entry of a malformed choice", func(v ballot.Vote, _ *Log) error {
			entry, _ := votequeue.AppendLogEntry(nil, v)
			entry[len(entry)-1] = ' '
			return rdb.LSet(ctx, votequeue.LogKey("CA"), index, entry).Err()
		}, false},
		{"head of another type", func(ballot.Vote, *Log) error {
			return rdb.HSet(ctx, votequeue.HeadKey("CA"), "x", "y").Err()
		}, false},
		{"log unreadable past the entry", func(_ ballot.Vote, l *Log) error {
			entries, err := votequeue.LogEntries(ctx, rdb, "CA", 0, index)
			for i, e := range entries {
				l.Observe("CA", int64(i), ballot.EntryLeaf(e)) // the log read up to the entry
			}
			if err != nil {
				return err
			}
			return head(ballot.HashHex([32]byte{1}))
		}, true},
		{"log not of its head's root", func(ballot.Vote, *Log) error {
			return head(ballot.HashHex([32]byte{1}))
		}, false},
	} {
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		v := appendVotes(t, rdb, "CA", 50)[index]
		client := srv.ClientAs(redisserver.UserGateway)
		if c.failLater {
			client.AddHook(&failLaterReads{})
		}
		l := New(client, nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := c.spoil(v, l); err != nil {
			t.Fatal(err)
		}
		_, err := l.Acceptance(ctx, v.ID, "CA", index)
		if err == nil || errors.Is(err, ErrNoEntry) || errors.Is(err, ErrNoHead) {
			t.Errorf("%s: %v; want an error", c.what, err)
		} else if strings.Contains(err.Error(), v.ID) || namesIndex.MatchString(err.Error()) {
			t.Errorf("%s: %v; names the vote %s or its index %d", c.what, err, v.ID, index)
		}
	}
}
