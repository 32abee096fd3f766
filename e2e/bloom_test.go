package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
)

// TestBloomRebuiltFromTheLedger loses every Bloom filter (as after a Redis
// loss), rebuilds them from the ledger's nullifiers with the roll command, and
// checks that voters whose votes are on the ledger are refused again as
// duplicates.
func TestBloomRebuiltFromTheLedger(t *testing.T) {
	s := startSystem(t, 1, 100)
	accepted := s.mustCast(t, s.roll[:60], 8)
	s.waitQueuesDrained(t, 2*time.Minute)

	ctx := context.Background()
	for _, st := range s.states {
		if err := s.rdb.Del(ctx, votequeue.BloomKey(st)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(s.bin, "roll"), "rebuild-bloom", "-profile", s.st.Network().Layout().Profile(),
		"-states", strings.Join(s.states, ","), "-redis-addr", s.st.RedisAddr(),
		"-redis-password-file", s.st.RedisACL().PasswordFile(redisserver.UserRoll))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rebuild-bloom: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "nullifiers") {
		t.Fatalf("rebuild-bloom printed no summary:\n%s", out)
	}
	for _, v := range accepted {
		if status, err := s.post(t.Context(), "/api/v1/vote", s.body(v), nil); status != http.StatusConflict || err != nil {
			t.Fatalf("voter %s voting again after the rebuild: %d %v; want 409", v.ID, status, err)
		}
	}
	// Voters who have not voted are still accepted.
	if fresh := s.mustCast(t, s.roll[60:70], 2); len(fresh) != 10 {
		t.Fatalf("%d of 10 new voters accepted after the rebuild", len(fresh))
	}
}
