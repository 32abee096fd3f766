package aofrewrite

import (
	"context"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// answering is a server whose BGREWRITEAOF ends in err.
type answering struct{ err error }

func (answering) Info(context.Context, ...string) *redis.StringCmd {
	return redis.NewStringResult("", nil)
}

func (a answering) BgRewriteAOF(context.Context) *redis.StatusCmd {
	return redis.NewStatusResult("", a.err)
}

// serverReply is an error the Redis server answered, as go-redis types
// them (redis.Error).
type serverReply string

func (e serverReply) Error() string { return string(e) }
func (serverReply) RedisError()     {}

// TestOnlyTheServersRefusalCounts: a BGREWRITEAOF the server refuses is a
// failed rewrite (the wait after it begins); one that got no answer (a
// deadline, a reset connection) says nothing about the server's disk and
// holds nothing back.
func TestOnlyTheServersRefusalCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"refused by the server", serverReply("ERR Can't open the append-only file: No space left on device"), 1},
		{"no answer before the deadline", context.DeadlineExceeded, 0},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(nil, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			const addr = "127.0.0.1:1"
			r.history[addr] = []Sample{{At: time.Now(), Enabled: true, Rewrites: 3}}
			r.rewrite(context.Background(), addr, answering{tc.err}, Decision{Rewrite: true})
			if got := r.failures[addr].Count; got != tc.want {
				t.Errorf("failures in a row %d, want %d", got, tc.want)
			}
		})
	}
}
