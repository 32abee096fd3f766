package redistest

import (
	"context"
	"testing"
)

// TestKillRestartKeepsWrites checks the property the durability tests rely
// on: a write acknowledged before SIGKILL is there after a restart.
func TestKillRestartKeepsWrites(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := s.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.ConfigGet(ctx, "appendfsync").Result()
	if err != nil || got["appendfsync"] != "always" {
		t.Fatalf("appendfsync = %v, %v; want always", got, err)
	}
	s.Kill()
	s.Restart()
	v, err := c.Get(ctx, "k").Result()
	if err != nil || v != "v" {
		t.Fatalf("after kill -9 and restart: GET k = %q, %v; want v", v, err)
	}
}

// TestServerPortIsReservedBelowTheEphemeralRange: a server's port is one
// testport reserved for the test, below Linux's ephemeral range (32768
// up), where an outgoing connection could take it while the server is
// down between a Kill and its Restart; the Restart gets it back.
func TestServerPortIsReservedBelowTheEphemeralRange(t *testing.T) {
	s := Start(t)
	port := s.port
	if port < 10000 || port > 31399 {
		t.Fatalf("port %d; want one of the test ports, 10000-31399", port)
	}
	s.Kill()
	s.Restart()
	if s.port != port || s.Client().Ping(context.Background()).Err() != nil {
		t.Fatalf("after Restart: port %d (was %d), PING %v", s.port, port, s.Client().Ping(context.Background()).Err())
	}
}
