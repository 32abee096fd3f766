package dedup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// fakeRedis is a Redis server that answers the client's handshake (HELLO
// refused, every other command OK) and, to the command named target,
// counted, either never answers or drops the connection.
type fakeRedis struct {
	addr    string
	target  string
	drop    bool
	targets atomic.Int64
}

func startFakeRedis(t *testing.T, target string, drop bool) *fakeRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeRedis{addr: ln.Addr().String(), target: target, drop: drop}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go f.serve(conn)
		}
	}()
	return f
}

func (f *fakeRedis) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		switch {
		case strings.EqualFold(cmd, f.target):
			f.targets.Add(1)
			if f.drop {
				return
			}
			_, _ = io.Copy(io.Discard, conn) // never answers; until the test's cleanup closes conn
			return
		case strings.EqualFold(cmd, "HELLO"):
			_, err = conn.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
		default:
			_, err = conn.Write([]byte("+OK\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// readCommand reads one RESP command (an array of bulk strings) and
// returns its name.
func readCommand(r *bufio.Reader) (string, error) {
	args, err := readArgs(r)
	if err != nil || len(args) == 0 {
		return "", err
	}
	return args[0], nil
}

// readArgs reads one RESP command (an array of bulk strings): its name and
// arguments.
func readArgs(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil {
		return nil, err
	}
	args := make([]string, 0, n)
	for range n {
		if line, err = r.ReadString('\n'); err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil {
			return nil, err
		}
		arg := make([]byte, size+2)
		if _, err := io.ReadFull(r, arg); err != nil {
			return nil, err
		}
		args = append(args, string(arg[:size]))
	}
	return args, nil
}

// tunedClient is a client of addr with TuneClient's options for the
// intake settings d.
func tunedClient(t *testing.T, addr string, d Config) redis.UniversalClient {
	t.Helper()
	ropts := &redis.UniversalOptions{Addrs: []string{addr}}
	TuneClient(ropts, d)
	rdb := redis.NewUniversalClient(ropts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestRedisCallEndsAtItsDeadline: a call to a Redis that does not answer
// ends at its context's deadline (Config.CallTimeout, the gateway's
// --redis-timeout), not at go-redis's default socket timeout of 5 s.
func TestRedisCallEndsAtItsDeadline(t *testing.T) {
	f := startFakeRedis(t, "GET", false)
	rdb := tunedClient(t, f.addr, Config{CallTimeout: 100 * time.Millisecond, ReplicaTimeout: time.Millisecond})
	// The connection and its handshake first, without the tight deadline,
	// so that on a loaded machine the 100 ms are spent waiting for GET's
	// answer, not dialling.
	warm, cancelWarm := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelWarm()
	if err := rdb.Ping(warm).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := rdb.Get(ctx, "k").Err()
	if took := time.Since(start); err == nil || took > 4*time.Second { // below go-redis's 5 s, well above 100 ms under load
		t.Fatalf("GET on a silent Redis: %v after %v; want a timeout at ~100ms", err, took)
	}
	// The fake counts GET when it has read it, which may come after the
	// client gave up; a second send would have come before Get returned.
	for deadline := time.Now().Add(5 * time.Second); f.targets.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := f.targets.Load(); n != 1 {
		t.Fatalf("GET sent %d times; want once", n)
	}
}

// TestRedisSocketTimeoutOutlastsAnIntakeCall: the socket timeouts never cut
// an intake call (script then WAIT, within CallTimeout + ReplicaTimeout)
// short, and are at least go-redis's 5 s.
func TestRedisSocketTimeoutOutlastsAnIntakeCall(t *testing.T) {
	for _, d := range []Config{
		{CallTimeout: 2 * time.Second, ReplicaTimeout: time.Second},
		{CallTimeout: 2 * time.Second, ReplicaTimeout: 6 * time.Second},
		{CallTimeout: 30 * time.Second, ReplicaTimeout: time.Millisecond},
	} {
		ropts := &redis.UniversalOptions{}
		TuneClient(ropts, d)
		want := max(5*time.Second, d.CallTimeout+d.ReplicaTimeout)
		if !ropts.ContextTimeoutEnabled || ropts.ReadTimeout != want || ropts.WriteTimeout != want {
			t.Errorf("CallTimeout %v, ReplicaTimeout %v: context deadlines %v, socket timeouts %v/%v; want on, %v",
				d.CallTimeout, d.ReplicaTimeout, ropts.ContextTimeoutEnabled, ropts.ReadTimeout, ropts.WriteTimeout, want)
		}
	}
}

// TestIntakeScriptIsNotSentTwice: a script call whose connection drops
// before the answer fails, once: sent again it could find the votes it
// had written and answer duplicate.
func TestIntakeScriptIsNotSentTwice(t *testing.T) {
	f := startFakeRedis(t, "EVALSHA", true)
	rdb := tunedClient(t, f.addr, DefaultConfig())
	err := redis.NewScript("return 1").Run(context.Background(), rdb, []string{"k"}).Err()
	if err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("script on a dropped connection: %v; want the failure", err)
	}
	if n := f.targets.Load(); n != 1 {
		t.Fatalf("EVALSHA sent %d times; want once", n)
	}
}

// TestAbortCutsAShapeFetchOnTheWire: Abort ends at once, with ErrClosed
// (nothing stored), an Accept whose state's shape fetch waits for a Redis
// that does not answer, though go-redis does not cut a command it sent
// for its context. It returned at CallTimeout (ten minutes here: longer
// than the test's wait for the SET to reach Redis, a minute for a starved
// machine, so that only Abort can end the Accept within wantPrompt's 5 s).
func TestAbortCutsAShapeFetchOnTheWire(t *testing.T) {
	f := startFakeRedis(t, "SET", false)
	cfg := Config{CallTimeout: 10 * time.Minute}
	d := New(tunedClient(t, f.addr, cfg), nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(d.Close)
	accepted := make(chan error, 1)
	go func() {
		_, err := d.Accept(context.Background(), Attempt{Vote: ballot.Vote{State: "CA"}})
		accepted <- err
	}()
	for deadline := time.Now().Add(time.Minute); f.targets.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shape's SET did not reach Redis within a minute")
		}
	}
	d.Abort()
	wantPrompt(t, accepted, ErrClosed, "Accept whose shape fetch was on the wire as Abort came")
}

// holdingProxy is a proxy to the Redis at upstream that passes every
// command on but holds, counted, one with an argument hold (never sent on,
// never answered; until the test's cleanup closes its connection).
type holdingProxy struct {
	addr string
	hold string
	held atomic.Int64
}

func startHoldingProxy(t *testing.T, upstream, hold string) *holdingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &holdingProxy{addr: ln.Addr().String(), hold: hold}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				conn.Close()
				continue
			}
			t.Cleanup(func() { conn.Close(); up.Close() })
			go func() { _, _ = io.Copy(conn, up) }()
			go p.serve(conn, up)
		}
	}()
	return p
}

func (p *holdingProxy) serve(conn, up net.Conn) {
	r := bufio.NewReader(conn)
	for {
		args, err := readArgs(r)
		if err != nil {
			return
		}
		if slices.Contains(args, p.hold) {
			p.held.Add(1)
			_, _ = io.Copy(io.Discard, conn)
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := io.WriteString(up, b.String()); err != nil {
			return
		}
	}
}

// TestAbortCutsAnExactCheckOnTheWire: Abort ends at once, with ErrAborted
// (its vote may be stored), an Accept whose exact check's call (the
// script in mode force, after a Bloom maybe-seen and the ledger's "unused")
// waits for a Redis that does not answer, though go-redis does not cut a
// command it sent for its context. Without untilStop it returned at
// CallTimeout (a minute here).
func TestAbortCutsAnExactCheckOnTheWire(t *testing.T) {
	srv := redistest.Start(t)
	f := &fixture{srv: srv, rdb: srv.Client(), ledger: &fakeLedger{}}
	saturate(t, f, "CA")
	n := f.voter(t, "CA", true)
	p := startHoldingProxy(t, srv.Addr, "force")
	cfg := Config{CallTimeout: time.Minute}
	opts := srv.Options(redisserver.UserGateway)
	ropts := &redis.UniversalOptions{Addrs: []string{p.addr}, Username: opts.Username, Password: opts.Password}
	TuneClient(ropts, cfg)
	rdb := redis.NewUniversalClient(ropts)
	t.Cleanup(func() { rdb.Close() })
	d := New(rdb, f.ledger, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(d.Close)
	accepted := make(chan error, 1)
	go func() {
		_, err := d.Accept(context.Background(), attempt(t, "CA", n))
		accepted <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); p.held.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			select {
			case err := <-accepted:
				t.Fatalf("Accept returned %v before its exact check's call reached Redis", err)
			default:
			}
			t.Fatal("the exact check's call did not reach Redis within 10 s")
		}
	}
	if f.ledger.calls.Load() != 1 {
		t.Fatalf("ledger asked %d times; want once, before the exact check's call", f.ledger.calls.Load())
	}
	d.Abort()
	wantPrompt(t, accepted, ErrAborted, "Accept whose exact check's call was on the wire as Abort came")
}
