package redisserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// TestACL: without its password a connection can do nothing; only the
// gateway's user can add to a vote stream, by command or by script.
func TestACL(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	stream := votequeue.StreamKey("CA")
	vote := []any{"v", "1", "vote_id", "forged"}

	for _, u := range redisserver.Users() {
		st, err := os.Stat(srv.ACL.PasswordFile(u))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("password file of %s: %v, mode %v; want 0600", u, err, st.Mode())
		}
	}
	if st, err := os.Stat(srv.ACL.File()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ACL file: %v; want mode 0600", err)
	}
	acl, _ := os.ReadFile(srv.ACL.File())
	for _, u := range redisserver.Users() {
		if pw, _ := srv.ACL.Password(u); strings.Contains(string(acl), pw) {
			t.Errorf("the ACL file holds %s's password in the clear", u)
		}
	}

	refused := func(name string, c *redis.Client, want string) {
		t.Helper()
		err := c.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: vote}).Err()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: XADD to %s: %v; want %s", name, stream, err, want)
		}
	}
	noAuth := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer noAuth.Close()
	if err := noAuth.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without a password: %v; want NOAUTH", err)
	}
	refused("no password", noAuth, "NOAUTH")
	wrong := srv.Options(redisserver.UserGateway)
	wrong.Password = strings.Repeat("0", 64)
	wrongPW := redis.NewClient(wrong)
	defer wrongPW.Close()
	refused("the gateway user with a wrong password", wrongPW, "WRONGPASS")

	for _, u := range []string{redisserver.UserBatcher, redisserver.UserRoll, redisserver.UserExporter, redisserver.UserAOF} {
		c := srv.ClientAs(u)
		refused(u, c, "NOPERM")
		err := c.Eval(ctx, "return redis.call('XADD', KEYS[1], '*', 'v', '1')", []string{stream}).Err()
		if err == nil || !strings.Contains(err.Error(), "NOPERM") && !strings.Contains(err.Error(), "can't access") {
			t.Errorf("%s: XADD by script: %v; want a refusal", u, err)
		}
	}

	gw := srv.ClientAs(redisserver.UserGateway)
	id, err := gw.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: vote}).Result()
	if err != nil {
		t.Fatalf("gateway: XADD: %v", err)
	}
	if err := gw.FlushAll(ctx).Err(); err == nil {
		t.Error("gateway: FLUSHALL allowed")
	}
	if err := gw.Set(ctx, "lease:{CA}", "x", 0).Err(); err == nil {
		t.Error("gateway: may write the batcher's lease")
	}

	b := srv.ClientAs(redisserver.UserBatcher)
	msgs, err := b.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, "0"}, Count: 10, Block: -1}).Result()
	if err != nil || len(msgs) != 1 || len(msgs[0].Messages) != 1 {
		t.Fatalf("batcher: XREAD: %v, %v", msgs, err)
	}
	if err := b.XDel(ctx, stream, id).Err(); err != nil {
		t.Errorf("batcher: XDEL: %v", err)
	}
	if err := b.XAdd(ctx, &redis.XAddArgs{Stream: "deadletter:{CA}", Values: []any{"reason", "x"}}).Err(); err != nil {
		t.Errorf("batcher: XADD to its dead-letter stream: %v", err)
	}

	for _, u := range []string{redisserver.UserGateway, redisserver.UserBatcher, redisserver.UserRoll} {
		err := srv.ClientAs(u).XGroupCreateMkStream(ctx, stream, "batcher", "0").Err()
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%s: XGROUP CREATE on %s: %v; want NOPERM (no component uses consumer groups)", u, stream, err)
		}
	}

	ex := srv.ClientAs(redisserver.UserExporter)
	if err := ex.Info(ctx, "memory").Err(); err != nil {
		t.Errorf("exporter: INFO: %v", err)
	}
	if err := ex.Get(ctx, votequeue.ReceiptKey("0123456789abcdef0123456789abcdef")).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("exporter: GET a receipt: %v; want NOPERM", err)
	}

	aof := srv.ClientAs(redisserver.UserAOF)
	if err := aof.Info(ctx, "persistence").Err(); err != nil {
		t.Errorf("aof: INFO: %v", err)
	}
	if err := aof.BgRewriteAOF(ctx).Err(); err != nil {
		t.Errorf("aof: BGREWRITEAOF: %v", err)
	}
	for name, err := range map[string]error{
		"GET a receipt":     aof.Get(ctx, votequeue.ReceiptKey("0123456789abcdef0123456789abcdef")).Err(),
		"CONFIG SET":        aof.ConfigSet(ctx, "appendfsync", "no").Err(),
		"BGSAVE":            aof.BgSave(ctx).Err(),
		"FLUSHALL":          aof.FlushAll(ctx).Err(),
		"SHUTDOWN (NOSAVE)": aof.Do(ctx, "SHUTDOWN", "NOSAVE").Err(),
	} {
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("aof: %s: %v; want NOPERM", name, err)
		}
	}
}

// TestEnsureKeepsPasswords: a restarted system keeps its passwords.
func TestEnsureKeepsPasswords(t *testing.T) {
	a := redisserver.ACL{Dir: t.TempDir()}
	if err := a.Ensure(nil, "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	first, _ := a.Password(redisserver.UserGateway)
	if len(first) != 64 {
		t.Fatalf("password %q, want 256 bits in hex", first)
	}
	if err := a.Ensure(nil, "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if again, _ := a.Password(redisserver.UserGateway); again != first {
		t.Error("Ensure replaced an existing password")
	}
	if other, _ := a.Password(redisserver.UserBatcher); other == first {
		t.Error("two users share a password")
	}
}

// TestEnsureRemovesLeftCopies: the copies of the password files that an
// earlier write killed outright left (PASSWORD.tmp of earlier versions,
// .PASSWORD.DIGITS.tmp of privatefile), each holding a password, are gone
// after Ensure, and each removal is a warning on the logger Ensure was
// given, naming the file; another file in the folder is kept.
func TestEnsureRemovesLeftCopies(t *testing.T) {
	a := redisserver.ACL{Dir: t.TempDir()}
	base := filepath.Base(a.PasswordFile(redisserver.UserGateway))
	left := []string{base + ".tmp", "." + base + ".271828.tmp", "exporter.json.tmp"}
	for _, name := range append(slices.Clone(left), "notes.txt") {
		if err := os.WriteFile(filepath.Join(a.Dir, name), []byte("a password\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logged bytes.Buffer
	if err := a.Ensure(slog.New(slog.NewJSONHandler(&logged, nil)), "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	var warned []string
	for line := range strings.Lines(logged.String()) {
		var rec struct{ Level, File string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Level == slog.LevelWarn.String() {
			warned = append(warned, filepath.Base(rec.File))
		}
	}
	if want := slices.Sorted(slices.Values(left)); !slices.Equal(slices.Sorted(slices.Values(warned)), want) {
		t.Errorf("warnings name %q; want one for each removed copy, %q", warned, want)
	}
	for _, name := range left {
		if _, err := os.Stat(filepath.Join(a.Dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v; want it removed", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "notes.txt")); err != nil {
		t.Errorf("notes.txt: %v; want it kept", err)
	}
}
