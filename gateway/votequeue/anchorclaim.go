// The claim on a partition's log anchor (see the package comment, "The
// intake log").

package votequeue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// claimScript claims the anchor of a head of size ARGV[2] for the signer
// whose token is ARGV[1], for ARGV[3] milliseconds, unless another
// token's claim stands: one in flight ("i"), of any size, or one done
// ("d") of at least that size. It returns "" when claimed, else the claim
// that stands.
// KEYS: claim; ARGV: token, size, ttl in ms.
var claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local tok, size, phase = string.match(cur, '^(%S+) (%d+) ([id])$')
  if tok and tok ~= ARGV[1] and (phase == 'i' or tonumber(size) >= tonumber(ARGV[2])) then return cur end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' i', 'PX', ARGV[3])
return ''`)

// endClaimScript ends the claim of token ARGV[1], if it still stands: as
// done ("d", for ARGV[3] milliseconds more) when ARGV[2] is "1", else by
// deleting it. Another token's claim stays.
// KEYS: claim; ARGV: token, done, ttl in ms.
var endClaimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or string.sub(cur, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then return 0 end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], string.sub(cur, 1, -2) .. 'd', 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1`)

// ClaimAnchor claims the anchor of partition's head of size for the
// signer whose token (one per process, no space) is given, for ttl: it
// says whether it did. It does not while another token's claim stands:
// one in flight, whatever its size (that signer's anchor of the partition
// is being sent; it may carry a larger head), or one done (EndAnchorClaim)
// of at least size (that signer's anchor of such a head committed, and
// the ledger holds it). A claim of the same token is renewed. The claim is
// advice: it keeps gateways that share a key from sending one head's
// anchor twice; the ledger still refuses an anchor that does not extend
// its head, and a claim of a signer gone expires after ttl.
func ClaimAnchor(ctx context.Context, rdb redis.Scripter, partition, token string, size uint64, ttl time.Duration) (bool, error) {
	cur, err := claimScript.Run(ctx, rdb, []string{AnchorClaimKey(partition)}, token, size, ttl.Milliseconds()).Text()
	if err != nil {
		return false, fmt.Errorf("votequeue: claim the %s anchor: %w", partition, err)
	}
	return cur == "", nil
}

// EndAnchorClaim ends token's claim on partition's anchor: kept as done
// for ttl when its anchor committed, deleted when it did not (another
// signer may anchor at once). Another token's claim stays.
func EndAnchorClaim(ctx context.Context, rdb redis.Scripter, partition, token string, committed bool, ttl time.Duration) error {
	done := "0"
	if committed {
		done = "1"
	}
	if err := endClaimScript.Run(ctx, rdb, []string{AnchorClaimKey(partition)}, token, done, ttl.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("votequeue: end the %s anchor claim: %w", partition, err)
	}
	return nil
}

// AnchorInFlight says whether a signer other than token's has a claim in
// flight on partition's anchor (ClaimAnchor, not yet ended).
func AnchorInFlight(ctx context.Context, rdb redis.Cmdable, partition, token string) (bool, error) {
	cur, err := rdb.Get(ctx, AnchorClaimKey(partition)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("votequeue: read the %s anchor claim: %w", partition, err)
	}
	f := strings.Fields(cur)
	return len(f) == 3 && f[0] != token && f[2] == "i", nil
}
