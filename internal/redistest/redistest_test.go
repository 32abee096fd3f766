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
