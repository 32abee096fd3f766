package stack

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestRedisNotReadyTailsItsLog: a Redis that does not answer is reported
// with the last lines of the log redis-server writes
// (redisserver.LogFile of its folder: .run/redis/redis.log, or
// .run/redis/node<i>/redis.log on a cluster), not with the name of
// .run/logs/<name>.log, which gets only its standard output.
func TestRedisNotReadyTailsItsLog(t *testing.T) {
	base := nettest.PortBase(t) // nothing listens there: every PING fails
	for _, kind := range []string{RedisSingle, RedisCluster} {
		dir := t.TempDir()
		s, err := New(Config{Dir: dir, PortBase: base, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Redis: kind})
		if err != nil {
			t.Fatal(err)
		}
		acl := s.RedisACL()
		if err := os.MkdirAll(acl.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(acl.PasswordFile(redisserver.UserAdmin), []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		first := s.redisSpecs()[0]
		log := redisserver.LogFile(first.Dir)
		if want := s.path("redis", "redis.log"); kind == RedisSingle && log != want {
			t.Errorf("single server's log %s; want %s", log, want)
		}
		if want := s.path("redis", "node0", "redis.log"); kind == RedisCluster && log != want {
			t.Errorf("cluster node 0's log %s; want %s", log, want)
		}
		if err := os.MkdirAll(first.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		const last = "# Bad file format reading the append only file appendonly.aof.1.incr.aof"
		if err := os.WriteFile(log, []byte("* Redis is starting\n"+last+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // one PING each, no waiting
		err = s.waitRedis(ctx)
		if want := "last lines of " + log + ":\n    * Redis is starting\n    " + last; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error with %q", kind, err, want)
		}
		if logs := s.path("logs"); err != nil && strings.Contains(err.Error(), logs) {
			t.Errorf("%s: %v; names %s, which holds no Redis log", kind, err, logs)
		}
	}
}
