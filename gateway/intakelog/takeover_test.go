package intakelog

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// scriptHook is a go-redis hook counting the scripts its client runs
// (publications of heads) and, while drop is set, losing the answer of
// the next one that ran: the head is stored, the caller gets an error, as
// on a read timeout during an fsync stall or a dropped connection.
type scriptHook struct {
	runs atomic.Int64
	drop atomic.Bool
}

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "evalsha" && cmd.Name() != "eval" {
			return next(ctx, cmd)
		}
		err := next(ctx, cmd)
		if err == nil {
			h.runs.Add(1)
			if h.drop.CompareAndSwap(true, false) {
				err = errors.New("i/o timeout (test: reply lost)")
				cmd.SetErr(err)
			}
		}
		return err
	}
}
func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// stillClock stands at the time it was made but for what advance adds:
// the real time a test takes (seconds, stalled on a loaded machine) does
// not move it, so a wait measured on it is exact.
type stillClock struct {
	start  time.Time
	offset atomic.Int64
}

func newStillClock() *stillClock              { return &stillClock{start: time.Now()} }
func (c *stillClock) now() time.Time          { return c.start.Add(time.Duration(c.offset.Load())) }
func (c *stillClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// takeOverAt is the take-over delay docs/ledger.md gives for the default
// configuration (an Interval of 1 s and a CallTimeout of 5 s): a round
// and twice an anchor's bound of 4 call timeouts.
const takeOverAt = 41 * time.Second

// hookedLog is a Log of key over a client of srv carrying hook.
func hookedLog(srv *redistest.Server, ledger Ledger, cfg Config, hook redis.Hook) *Log {
	client := srv.ClientAs(redisserver.UserGateway)
	client.AddHook(hook)
	return New(client, ledger, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// waitRounds makes rounds of l (of the default configuration) for CA
// (sign, then anchor) until the clock is a second short of takeOverAt
// since the refusal, and checks that l publishes no head (signs none at
// the lost size) and the ledger stays at anchored: a take-over sooner
// sends a second anchor of the size, concurrent with the winner's when
// the ledger is slow. The caller moves the clock the last second on.
func waitRounds(t *testing.T, l *Log, clock *stillClock, hook *scriptHook, ledger *fakeLedger, anchored uint64) {
	t.Helper()
	runs := hook.runs.Load()
	for range 4 { // 10 s each: 40 s, to the nanosecond
		clock.advance((takeOverAt - time.Second) / 4)
		if err := signAndAnchor(t, l, "CA"); err != nil {
			t.Fatal(err)
		}
	}
	if n := hook.runs.Load() - runs; n != 0 {
		t.Errorf("%d heads published while waiting at the refused size; want none", n)
	}
	if got := ledger.head("CA").Size; got != anchored {
		t.Errorf("anchored size %d while waiting; want %d", got, anchored)
	}
}

// refusedAtFour has l sign CA's head of 2 and anchor it, then store a
// head of 4 as store does (not l's publication answered stored), then
// make a round of l, which signs 4, refused as of a size stored. It
// returns the stored head.
func refusedAtFour(t *testing.T, l *Log, rdb *redis.Client, store func()) ballot.TreeHead {
	t.Helper()
	appendVotes(t, rdb, "CA", 2)
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	appendVotes(t, rdb, "CA", 2)
	store()
	stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
	if err != nil || stored.Size != 4 {
		t.Fatalf("stored head %+v, %v; want size 4", stored, err)
	}
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	return stored
}

// replyLost has l publish its head of CA, stored with the answer lost,
// and moves the clock a second on: l's next head of that size is
// stamped otherwise (the same bytes again PublishHead reports stored).
func replyLost(t *testing.T, l *Log, hook *scriptHook, clock *stillClock) {
	t.Helper()
	hook.drop.Store(true)
	if err := l.sign(context.Background(), "e1", "CA"); err == nil {
		t.Fatal("sign with the reply lost: no error")
	}
	clock.advance(time.Second)
}

// A gateway alone on its key whose publication of head 4 is stored but
// whose answer is lost signs 4 again, refused as of a size stored: it
// signs no more heads of that size, and once the delay (41 s) has passed
// with the ledger still at 2 it takes the stored head (its own) and
// anchors it, though the log stays idle.
func TestLostPublishReplyIsAnchoredAfterTheDelay(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	clock := newStillClock()
	var hook scriptHook
	l := hookedLog(srv, ledger, Config{Key: key, Now: clock.now}, &hook)
	stored := refusedAtFour(t, l, rdb, func() { replyLost(t, l, &hook, clock) })
	waitRounds(t, l, clock, &hook, ledger, 2)
	clock.advance(time.Second) // takeOverAt since the refusal
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	if got := ledger.head("CA"); got != stored {
		t.Errorf("anchored %+v after the delay; want the stored head %+v", got, stored)
	}
}

// storeOtherRoot stores a head of CA of 4 entries that key signed, of a
// root no log of these tests gives.
func storeOtherRoot(t *testing.T, rdb *redis.Client, key ed25519.PrivateKey, clock *stillClock) {
	t.Helper()
	h, err := ballot.TreeHead{Election: "e1", State: "CA", Size: 4, Root: ballot.HashHex([32]byte{1}), Timestamp: clock.now().UnixMilli()}.Sign(key)
	if err == nil {
		_, err = votequeue.PublishHead(context.Background(), rdb, h)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// acceptanceVerifies checks that l's acceptance receipt of CA's entry at
// index, under the head stored, verifies with keys (the ledger's).
func acceptanceVerifies(t *testing.T, l *Log, rdb *redis.Client, keys ballot.LogKeys, index uint64) {
	t.Helper()
	ctx := context.Background()
	entries, err := votequeue.LogEntries(ctx, rdb, "CA", index, index+1)
	if err != nil || len(entries) != 1 {
		t.Fatalf("entry %d: %d entries, %v", index, len(entries), err)
	}
	v, err := ballot.DecodeVote(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Acceptance(ctx, v.ID, "CA", index)
	if err == nil {
		err = a.Verify(keys)
	}
	if err != nil {
		t.Errorf("acceptance receipt of entry %d: %v", index, err)
	}
}

// A gateway of another key (registered on the ledger too) stores CA's
// head of 4 and is gone before anchoring it: the gateway refused 4 signs
// no head of that size while the delay (41 s) runs, the ledger staying at
// 2 (that gateway may still be alive and about to anchor it), then, the
// stored head having the size and root of its own log, in one round
// signs its own head of them and anchors it, though the log stays idle;
// the stored head stays (acceptance receipts still verify under it).
// Before, another key's head was never taken: the state's last votes
// stayed unanchored until the log grew. That gateway, alive after all,
// then anchors its own head of 4: a no-op repeat of the anchored head
// (the ledger compares size and root), which changes nothing. A stored
// head of another key and another root (a log this gateway does not see)
// is not taken, after the delay nor after another.
func TestAnotherKeysHeadIsTakenAfterTheDelay(t *testing.T) {
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	for _, sameRoot := range []bool{true, false} {
		srv, rdb, key, ledger := signerSetup(t)
		keys, _, err := ledger.keys.Register([]ballot.LogKey{ballot.NewLogKey(other.Public().(ed25519.PublicKey))}, 2)
		if err != nil {
			t.Fatal(err)
		}
		ledger.keys = keys
		clock := newStillClock()
		var hook scriptHook
		l := hookedLog(srv, ledger, Config{Key: key, Now: clock.now}, &hook)
		var logs strings.Builder
		l.log = slog.New(slog.NewTextHandler(&logs, nil))
		gone := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: other}, l.log)
		store := func() { // the other gateway's head of 4, never anchored
			if !sameRoot {
				storeOtherRoot(t, rdb, other, clock)
				return
			}
			if err := gone.sign(context.Background(), "e1", "CA"); err != nil {
				t.Fatal(err)
			}
		}
		stored := refusedAtFour(t, l, rdb, store)
		waitRounds(t, l, clock, &hook, ledger, 2)
		clock.advance(time.Second) // takeOverAt since the refusal
		if err := signAndAnchor(t, l, "CA"); err != nil {
			t.Fatal(err)
		}
		anchored := ledger.head("CA")
		published, err := votequeue.GetHead(context.Background(), rdb, "CA")
		if err != nil {
			t.Fatal(err)
		}
		took := strings.Contains(logs.String(), `"intake log: took the stored head of another key`)
		if !sameRoot {
			clock.advance(takeOverAt) // and after another delay
			if err := signAndAnchor(t, l, "CA"); err != nil {
				t.Fatal(err)
			}
			took = strings.Contains(logs.String(), `"intake log: took the stored head of another key`)
			if got, _ := votequeue.GetHead(context.Background(), rdb, "CA"); ledger.head("CA").Size != 2 || published != stored || got != stored || took {
				t.Errorf("another key's head of 4 of another root stored: anchored size %d, published %+v then %+v, logged a take-over %v; want 2, the stored head %+v kept, none", ledger.head("CA").Size, published, got, took, stored)
			}
			continue
		}
		mine, err := anchored.Sign(key)
		if anchored.Size != 4 || anchored.Root != stored.Root || err != nil || mine != anchored {
			t.Errorf("anchored %+v after the delay; want a head of 4 and the stored head's root %s signed by this gateway's key", anchored, stored.Root)
		}
		if published != stored {
			t.Errorf("published head %+v after the take-over; want the stored one %+v kept", published, stored)
		}
		if !took {
			t.Errorf("the log does not say it took the stored head of another key:\n%s", logs.String())
		}
		acceptanceVerifies(t, l, rdb, ledger.keys, 3)
		if err := gone.anchor(context.Background(), []string{"CA"}); err != nil {
			t.Errorf("the other gateway's anchor of its own head of 4 after the take-over: %v; want a no-op repeat", err)
		}
		if got, _ := votequeue.GetHead(context.Background(), rdb, "CA"); ledger.head("CA") != anchored || got != stored {
			t.Errorf("after the other gateway's anchor: anchored %+v, stored %+v; want %+v and %+v unchanged", ledger.head("CA"), got, anchored, stored)
		}
		// The log grows: this gateway publishes its own larger head again
		// (the head it only anchored does not keep it from publishing).
		appendVotes(t, rdb, "CA", 2)
		if err := signAndAnchor(t, l, "CA"); err != nil {
			t.Fatal(err)
		}
		got, err := votequeue.GetHead(context.Background(), rdb, "CA")
		if mine, signErr := got.Sign(key); err != nil || signErr != nil || got.Size != 6 || mine != got {
			t.Errorf("stored head %+v, %v after the log grew to 6; want this gateway's head of 6", got, err)
		}
	}
}

// A gateway whose key is not registered on the ledger (started before roll
// publish added it, or of another election) takes over another key's head
// of 4, stored and not anchored, after the delay: it anchors its own head
// of that size and root, which the ledger refuses (ErrUnknownLogKey), and
// the head stored, the other key's, stays, round after round, so that
// acceptance receipts still verify. Before, the take-over replaced the
// stored head with its own, which receipts reject ("key not registered")
// and nothing repaired on a log that stopped growing. Its head signed
// again (its stamp refused) is not published either.
func TestUnregisteredKeyLeavesAnotherKeysHeadStored(t *testing.T) {
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	srv, rdb, key, ledger := signerSetup(t)
	keys, _, err := ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(other.Public().(ed25519.PublicKey))}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ledger.keys = keys // only the other key
	clock := newStillClock()
	var hook scriptHook
	l := hookedLog(srv, ledger, Config{Key: key, Now: clock.now}, &hook)
	gone := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: other, Now: clock.now}, l.log)
	appendVotes(t, rdb, "CA", 2)
	if err := signAndAnchor(t, gone, "CA"); err != nil {
		t.Fatal(err)
	}
	appendVotes(t, rdb, "CA", 2)
	if err := gone.sign(context.Background(), "e1", "CA"); err != nil { // 4, never anchored
		t.Fatal(err)
	}
	stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
	if err != nil || stored.Size != 4 {
		t.Fatalf("stored head %+v, %v; want size 4", stored, err)
	}
	if err := signAndAnchor(t, l, "CA"); err != nil { // refused 4
		t.Fatal(err)
	}
	waitRounds(t, l, clock, &hook, ledger, 2)
	clock.advance(time.Second) // takeOverAt since the refusal
	for round := range 2 {
		if err := signAndAnchor(t, l, "CA"); !errors.Is(err, ballot.ErrUnknownLogKey) {
			t.Errorf("round %d after the delay: anchor %v; want it refused for the key (%v)", round, err, ballot.ErrUnknownLogKey)
		}
		clock.advance(time.Second)
	}
	if got, err := votequeue.GetHead(context.Background(), rdb, "CA"); err != nil || got != stored {
		t.Errorf("stored head %+v, %v after the refused take-over; want the other key's %+v kept", got, err, stored)
	}
	if got := ledger.head("CA").Size; got != 2 {
		t.Errorf("anchored size %d; want 2", got)
	}
	acceptanceVerifies(t, l, rdb, keys, 3)
	// Its head signed again (as when the ledger refuses its stamp) is not
	// published either.
	s := l.state("CA")
	s.mu.Lock()
	s.resign = true
	s.mu.Unlock()
	if err := l.sign(context.Background(), "e1", "CA"); err != nil {
		t.Fatal(err)
	}
	if got, err := votequeue.GetHead(context.Background(), rdb, "CA"); err != nil || got != stored {
		t.Errorf("stored head %+v, %v after signing its head again; want the other key's %+v kept", got, err, stored)
	}
}

// The closing round at shutdown takes over at once a size refused as
// stored: a gateway whose publication of head 4 was stored with its
// answer lost, stopped before the delay, anchors that head and logs its
// heads anchored; so does one refused 4 by another key's head of its root,
// anchoring its own head of that size and root, the stored head staying
// (and logging so). A stored head of that size of
// another root is not taken, and the closing round warns that it left the
// state unanchored rather than log its heads anchored.
func TestClosingRoundTakesOverARefusedSize(t *testing.T) {
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	for _, stored := range []string{"reply lost", "another key's head", "another key's head of another root"} {
		srv, rdb, key, ledger := signerSetup(t)
		clock := newStillClock()
		var hook scriptHook
		l := hookedLog(srv, ledger, Config{Key: key, Now: clock.now}, &hook)
		var logs strings.Builder
		l.log = slog.New(slog.NewTextHandler(&logs, nil))
		store := func() { replyLost(t, l, &hook, clock) }
		switch stored {
		case "another key's head":
			o := New(srv.ClientAs(redisserver.UserGateway), nil, Config{Key: other}, l.log)
			store = func() {
				if err := o.sign(context.Background(), "e1", "CA"); err != nil {
					t.Fatal(err)
				}
			}
		case "another key's head of another root":
			store = func() { storeOtherRoot(t, rdb, other, clock) }
		}
		head := refusedAtFour(t, l, rdb, store)
		l.closingRound(context.Background(), fixedElections{})
		anchored, says := ledger.head("CA"), `"intake log: closing heads anchored"`
		if got, err := votequeue.GetHead(context.Background(), rdb, "CA"); stored != "reply lost" && (err != nil || got != head) {
			t.Errorf("%s: stored head %+v, %v after the closing round; want %+v kept", stored, got, err, head)
		}
		switch stored {
		case "another key's head of another root":
			says = `"intake log: closing round left heads unanchored: ` + waitNote + `" states=[CA]`
			if anchored.Size != 2 {
				t.Errorf("%s stored: anchored size %d after the closing round; want 2 (not taken)", stored, anchored.Size)
			}
		case "another key's head":
			says = `"intake log: closing round took the stored heads refused to this gateway and not anchored, to anchor them (for other_key, another key's, it anchors its own head of their size and root; the stored heads stay)" states=[CA] other_key=[CA]`
			if mine, err := anchored.Sign(key); anchored.Size != 4 || anchored.Root != head.Root || err != nil || mine != anchored {
				t.Errorf("%s stored: anchored %+v after the closing round; want a head of 4 and the stored head's root %s signed by this gateway's key", stored, anchored, head.Root)
			}
		default:
			if anchored != head {
				t.Errorf("%s: anchored %+v after the closing round; want the stored head %+v", stored, anchored, head)
			}
		}
		if !strings.Contains(logs.String(), says) {
			t.Errorf("%s: the log does not say %q:\n%s", stored, says, logs.String())
		}
	}
}

// racingLedger loses the first anchor that carries a head of winner's
// size and state to another gateway's concurrent one: it commits winner
// (that gateway's anchor of its state) and fails
// the transaction with a read conflict, as Fabric fails the later of two
// anchors endorsed on the same anchored head (fabricclient maps
// MVCC_READ_CONFLICT to ballot.ErrHeadConflict). It counts the anchors
// it is sent.
type racingLedger struct {
	*fakeLedger
	winner ballot.TreeHead
	raced  atomic.Bool
	sent   atomic.Int64
}

func (r *racingLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	r.sent.Add(1)
	for _, a := range anchors {
		if a.Head.State != r.winner.State || a.Head.Size != r.winner.Size || !r.raced.CompareAndSwap(false, true) {
			continue
		}
		r.fakeLedger.mu.Lock()
		r.heads[r.winner.State] = r.winner
		r.fakeLedger.mu.Unlock()
		return readConflict(anchors)
	}
	return r.fakeLedger.AnchorLogHeads(ctx, anchors)
}

// readConflict is the error of an anchor that lost the race at commit.
func readConflict(anchors []ballot.LogAnchor) error {
	return fmt.Errorf("anchor %d log heads: %w: MVCC_READ_CONFLICT", len(anchors), ballot.ErrHeadConflict)
}

// A gateway stopping takes over at once CA's head of 4, which a gateway
// sharing its key stored and is anchoring at that moment: the two anchors
// race and this one loses, failing with it the gateway's own NY head of 3,
// which no other gateway published. The closing round anchors again what
// the race left (NY) and logs its heads anchored; it gave up after the
// race before, leaving NY's votes unanchored until another gateway took
// its head over (41 s later) or, with a key of its own, its restart.
// Without NY's votes the winner's anchor covers all the race left: the
// closing round sends no second anchor, and logs its heads anchored (not
// the race's failure).
func TestClosingRoundAnchorsAgainAfterARace(t *testing.T) {
	for _, ny := range []int{3, 0} {
		srv, rdb, key, fake := signerSetup(t)
		clock := newStillClock()
		var logs strings.Builder
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		ledger := &racingLedger{fakeLedger: fake}
		l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock.now}, logger)
		// The winner, a second ahead: its head of a size differs from l's.
		ahead := func() time.Time { return clock.now().Add(time.Second) }
		winner := New(srv.ClientAs(redisserver.UserGateway), nil, Config{Key: key, Now: ahead}, logger)
		appendVotes(t, rdb, "CA", 2)
		if err := signAndAnchor(t, l, "CA"); err != nil {
			t.Fatal(err)
		}
		appendVotes(t, rdb, "CA", 2)
		if err := winner.sign(context.Background(), "e1", "CA"); err != nil {
			t.Fatal(err)
		}
		if err := l.sign(context.Background(), "e1", "CA"); err != nil { // refused: 4 is stored
			t.Fatal(err)
		}
		stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
		if err != nil || stored.Size != 4 {
			t.Fatalf("stored CA head %+v, %v; want the winner's of size 4", stored, err)
		}
		ledger.winner = stored
		appendVotes(t, rdb, "NY", ny)
		sent := ledger.sent.Load()

		l.closingRound(context.Background(), fixedElections{})
		if !ledger.raced.Load() {
			t.Fatalf("NY %d: the closing round sent no anchor", ny)
		}
		if got := fake.head("CA"); got != stored {
			t.Errorf("NY %d: anchored CA head %+v; want the winner's %+v", ny, got, stored)
		}
		if got := fake.head("NY").Size; got != uint64(ny) {
			t.Errorf("anchored NY size %d after the closing round; want %d (its anchor lost a race on CA, not on NY)", got, ny)
		}
		want := int64(2) // the lost race, then NY's again
		if ny == 0 {
			want = 1 // nothing left to anchor
		}
		if n := ledger.sent.Load() - sent; n != want {
			t.Errorf("NY %d: the closing round sent %d anchors; want %d", ny, n, want)
		}
		if says := `"intake log: closing heads anchored"`; !strings.Contains(logs.String(), says) {
			t.Errorf("NY %d: the log does not say %s:\n%s", ny, says, logs.String())
		}
	}
}

// headOf is the head of size of the state's log in Redis, stamped at,
// that key signs.
func headOf(t *testing.T, rdb *redis.Client, key ed25519.PrivateKey, state string, size uint64, at time.Time) ballot.TreeHead {
	t.Helper()
	entries, err := votequeue.LogEntries(context.Background(), rdb, state, 0, size)
	if err != nil || uint64(len(entries)) != size {
		t.Fatalf("%d entries of the %s log, %v; want %d", len(entries), state, err, size)
	}
	var tree ballot.LogTree
	for _, e := range entries {
		tree.Append(ballot.EntryLeaf(e))
	}
	root, _ := tree.Root(size)
	h, err := ballot.TreeHead{Election: "e1", State: state, Size: size, Root: ballot.HashHex(root), Timestamp: at.UnixMilli()}.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// losingLedger loses every anchor it is sent to another gateway's
// concurrent one, as when a gateway sharing the key anchors the same
// state in every block: it commits that gateway's next head (ahead, in
// turn) and fails the transaction with a read conflict; with none left
// it fails it all the same, the anchored head unmoved. Its holdAt-th
// anchor (0: none) waits for its context to end first, as one whose
// block comes after the closing round's bound, and fails with the
// context's error: the Fabric client gives up waiting for the commit
// (SubmitWithContext), whatever the block then makes of it. It counts
// the anchors it is sent.
type losingLedger struct {
	*fakeLedger
	ahead  []ballot.TreeHead
	holdAt int64
	sent   atomic.Int64
}

func (r *losingLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	held := r.sent.Add(1) == r.holdAt
	if held {
		<-ctx.Done()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ahead) > 0 {
		r.heads[r.ahead[0].State], r.ahead = r.ahead[0], r.ahead[1:]
	}
	if held {
		return fmt.Errorf("anchor %d log heads: %w", len(anchors), ctx.Err())
	}
	return readConflict(anchors)
}

// A gateway stopping whose every anchor loses the race (another gateway
// sharing its key anchors CA a head further each time, never up to this
// one's head of 10) sends its closing anchor again after each race lost,
// past any count (it gave up after 3): 9 races, then a 10th anchor whose
// failure no race explains (the anchored head unmoved), which it does not
// send again. Nor does it send one once the closing round's bound has
// ended (its 3rd anchor's block coming only then: StopTimeout holds).
// Either way it warns that its closing anchor failed, saying who anchors
// what it left and the last failure, which names no race: the conflict
// no race explains, or the deadline the client gave up at (no ledger
// read after it can tell a race; the fake ledger's did, ignoring its
// context, which the Fabric client's read does not).
func TestClosingRoundRacesUntilItsBound(t *testing.T) {
	for _, holdAt := range []int64{0, 3} {
		srv, rdb, key, fake := signerSetup(t)
		clock := newStillClock()
		var logs strings.Builder
		ledger := &losingLedger{fakeLedger: fake, holdAt: holdAt}
		cfg := Config{Key: key, Now: clock.now, CallTimeout: 500 * time.Millisecond}
		l := New(srv.ClientAs(redisserver.UserGateway), ledger, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		appendVotes(t, rdb, "CA", 10)
		for size := range uint64(9) { // the other gateway's heads of 1 to 9, stamped a second before l's
			ledger.ahead = append(ledger.ahead, headOf(t, rdb, key, "CA", size+1, clock.now().Add(-time.Second)))
		}

		l.closingRound(context.Background(), fixedElections{})
		want := int64(10) // 9 races lost, then a failure
		if holdAt > 0 {
			want = holdAt
		}
		if n := ledger.sent.Load(); n != want {
			t.Errorf("held at %d: the closing round sent %d anchors, each losing; want %d", holdAt, n, want)
		}
		if says := `"intake log: closing anchor failed: ` + waitNote + `"`; !strings.Contains(logs.String(), says) {
			t.Errorf("held at %d: the log does not say %s:\n%s", holdAt, says, logs.String())
		}
		failure := "MVCC_READ_CONFLICT"
		if holdAt > 0 {
			failure = context.DeadlineExceeded.Error()
		}
		if !strings.Contains(logs.String(), failure) || strings.Contains(logs.String(), errSuperseded.Error()) {
			t.Errorf("held at %d: the closing anchor's failure does not name %q, or names the race:\n%s", holdAt, failure, logs.String())
		}
	}
}

// A gateway stopping, its clock 10 s behind the one that anchored CA's
// and NY's heads of 2, finds its heads of 4 stamped before them: it
// leaves them out of its closing anchor, signs them again stamped as the
// anchored heads, and anchors them; that anchor loses the race on CA to a
// gateway sharing its key, failing NY's head with it. The closing round
// anchors NY again, as it does after its first anchor's race, and logs
// its heads anchored; it gave up after that race, leaving NY's votes
// unanchored.
func TestClosingRoundAnchorsAgainAfterARaceOfHeadsSignedAgain(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	clock := newStillClock()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ledger := &racingLedger{fakeLedger: fake}
	later := func() time.Time { return clock.now().Add(10 * time.Second) }
	first := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: later}, logger)
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock.now}, logger)
	for _, st := range []string{"CA", "NY"} {
		appendVotes(t, rdb, st, 2)
		if err := first.sign(context.Background(), "e1", st); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.anchor(context.Background(), []string{"CA", "NY"}); err != nil {
		t.Fatal(err)
	}
	appendVotes(t, rdb, "CA", 2)
	appendVotes(t, rdb, "NY", 2)
	// The winner's head of CA's 4, stamped as l's signed again is.
	ledger.winner = headOf(t, rdb, key, "CA", 4, later())
	sent := ledger.sent.Load()

	l.closingRound(context.Background(), fixedElections{})
	if !ledger.raced.Load() {
		t.Fatal("the closing round sent no anchor of CA's 4")
	}
	if got := fake.head("NY"); got.Size != 4 || got.Timestamp != later().UnixMilli() {
		t.Errorf("anchored NY head %+v after the closing round; want its head of 4 signed again, stamped as the anchored one", got)
	}
	if n := ledger.sent.Load() - sent; n != 2 {
		t.Errorf("the closing round sent %d anchors; want 2 (the lost race, then NY's again)", n)
	}
	if says := `"intake log: closing heads anchored"`; !strings.Contains(logs.String(), says) {
		t.Errorf("the log does not say %s:\n%s", says, logs.String())
	}
}

// Two gateways sharing a key race for head 4; the winner's is stored. If
// the winner is killed before anchoring it, the loser, which signs no
// head of that size meanwhile, anchors the stored head once the delay has
// passed; if the winner anchors it, the loser sends no anchor at all.
func TestWinnerKilledBeforeAnchoringIsTakenOver(t *testing.T) {
	for _, winnerAnchors := range []bool{false, true} {
		srv, rdb, key, fake := signerSetup(t)
		ledger := &countingLedger{fakeLedger: fake, sizes: map[uint64]int{}}
		clock := newStillClock()
		var winnerHook, loserHook scriptHook
		winner := hookedLog(srv, ledger, Config{Key: key, Now: clock.now}, &winnerHook)
		// A second ahead: its head of a size differs from the winner's.
		ahead := func() time.Time { return clock.now().Add(time.Second) }
		reg := prometheus.NewRegistry()
		loser := hookedLog(srv, ledger, Config{Key: key, Now: ahead, Registry: reg}, &loserHook)
		race := func() {
			appendVotes(t, rdb, "CA", 2)
			for _, g := range []*Log{winner, loser} {
				if err := g.sign(context.Background(), "e1", "CA"); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Both running (the loser, just started, takes head 2 as its
		// own and finds it anchored), they race again for head 4.
		race()
		if err := winner.anchor(context.Background(), []string{"CA"}); err != nil {
			t.Fatal(err)
		}
		if err := loser.anchor(context.Background(), []string{"CA"}); err != nil {
			t.Fatal(err)
		}
		race()
		stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
		if err != nil {
			t.Fatal(err)
		}
		// The loser's gauges: signed 2, but the head stored (served) is 4.
		if signed, published := metricValue(t, reg, "intake_log_signed_entries"), metricValue(t, reg, "intake_log_published_entries"); signed != 2 || published != 4 {
			t.Errorf("the loser's intake_log_signed_entries %v, intake_log_published_entries %v; want 2 and 4", signed, published)
		}
		want := uint64(2) // killed: the winner never anchors 4
		if winnerAnchors {
			if err := winner.anchor(context.Background(), []string{"CA"}); err != nil {
				t.Fatal(err)
			}
			want = 4
		}
		waitRounds(t, loser, clock, &loserHook, fake, want)
		clock.advance(time.Second) // takeOverAt since the refusal
		for range 2 {
			if err := signAndAnchor(t, loser, "CA"); err != nil {
				t.Fatal(err)
			}
		}
		if got := fake.head("CA"); got != stored {
			t.Errorf("winner anchors %v: anchored %+v; want the winner's stored head %+v", winnerAnchors, got, stored)
		}
		if n := ledger.sizes[4]; n != 1 {
			t.Errorf("winner anchors %v: %d anchors of size 4 sent; want 1", winnerAnchors, n)
		}
		if n := loserHook.runs.Load(); n != 2 {
			t.Errorf("winner anchors %v: the loser published %d heads; want 2 (its refused ones)", winnerAnchors, n)
		}
		// Anchored by either, the loser shows the ledger's 4 (it read it, or
		// anchored it): IntakeLogUnanchored compares that with the 4 it
		// shows published, whether or not the winner's series remain.
		if got := metricValue(t, reg, "intake_log_anchored_entries"); got != 4 {
			t.Errorf("winner anchors %v: the loser's intake_log_anchored_entries %v; want 4", winnerAnchors, got)
		}
	}
}

// A gateway restarted on a quiet log signs its head of 3 again, is
// refused (a head of 3 is stored), takes the stored head of its key and
// finds it anchored, so it sends no anchor; it shows published, signed and
// anchored 3, the last read from the ledger. With no anchored series (set
// only by its own anchors, as before), IntakeLogUnanchored compared 3 with
// 0 and fired for every state of a quiet log after each restart.
func TestRestartedGatewayShowsTheLedgersAnchoredSize(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	ledger := &countingLedger{fakeLedger: fake, sizes: map[uint64]int{}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	before := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key}, quiet)
	appendVotes(t, rdb, "CA", 3)
	if err := signAndAnchor(t, before, "CA"); err != nil {
		t.Fatal(err)
	}
	// Restarted a second on: its head of 3 is stamped otherwise.
	later := func() time.Time { return time.Now().Add(time.Second) }
	reg := prometheus.NewRegistry()
	after := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: later, Registry: reg}, quiet)
	for range 2 {
		if err := signAndAnchor(t, after, "CA"); err != nil {
			t.Fatal(err)
		}
	}
	if n := ledger.sizes[3]; n != 1 {
		t.Errorf("%d anchors of size 3 sent; want 1 (the restarted gateway's head is anchored)", n)
	}
	for _, name := range []string{"intake_log_published_entries", "intake_log_signed_entries", "intake_log_anchored_entries"} {
		if got := metricValue(t, reg, name); got != 3 {
			t.Errorf("the restarted gateway's %s %v; want 3", name, got)
		}
	}
}

// blockLedger commits anchors as Fabric does: the chaincode checks an
// anchor against the anchored heads when it is endorsed (its refusal is
// the error then), and the transaction commits in a block only if none of
// the anchored heads it read has changed since (else MVCC_READ_CONFLICT,
// ballot.ErrHeadConflict): of anchors of a state endorsed on the same
// head, the first in the block wins. A block is cut once every closing
// round still running (live, lowered by leave) has an anchor waiting, so
// the rounds race in every block, and its transactions commit smallest
// first (by the largest head each carries): the order in which the
// gateway holding the largest heads loses the most races. It counts the
// anchors it is sent and the anchored heads read.
type blockLedger struct {
	*fakeLedger
	bmu         sync.Mutex
	live        int
	pending     []*blockTx
	sent, reads atomic.Int64
}

func (b *blockLedger) LogHead(ctx context.Context, state string) (ballot.AnchoredHead, error) {
	b.reads.Add(1)
	return b.fakeLedger.LogHead(ctx, state)
}

// blockTx is an endorsed anchor waiting for its block.
type blockTx struct {
	anchors []ballot.LogAnchor
	read    []ballot.TreeHead // each anchor's state's anchored head at endorsement
	writes  []bool            // whether it writes its head (not a repeat of the anchored one)
	done    chan error
}

// largest is the size of the largest head tx carries.
func (tx *blockTx) largest() uint64 {
	var n uint64
	for _, a := range tx.anchors {
		n = max(n, a.Head.Size)
	}
	return n
}

func (b *blockLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	b.sent.Add(1)
	tx := &blockTx{anchors: anchors, done: make(chan error, 1)}
	b.mu.Lock()
	for _, a := range anchors {
		prev := b.heads[a.Head.State]
		write, err := a.Check(testElection, b.keys, prev, time.Now().UnixMilli())
		if err != nil {
			b.mu.Unlock()
			return err
		}
		tx.read, tx.writes = append(tx.read, prev), append(tx.writes, write)
	}
	b.mu.Unlock()
	b.bmu.Lock()
	b.pending = append(b.pending, tx)
	b.cut()
	b.bmu.Unlock()
	select {
	case err := <-tx.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave says a closing round has returned: it sends no more anchors.
func (b *blockLedger) leave() {
	b.bmu.Lock()
	defer b.bmu.Unlock()
	b.live--
	b.cut()
}

// cut commits the waiting anchors as a block once every live closing
// round has one waiting. The caller holds b.bmu.
func (b *blockLedger) cut() {
	if len(b.pending) == 0 || len(b.pending) < b.live {
		return
	}
	block := b.pending
	b.pending = nil
	slices.SortStableFunc(block, func(x, y *blockTx) int { return cmp.Compare(x.largest(), y.largest()) })
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, tx := range block {
		var err error
		for i, a := range tx.anchors {
			if b.heads[a.Head.State] != tx.read[i] {
				err = readConflict(tx.anchors)
			}
		}
		for i, a := range tx.anchors {
			if err == nil && tx.writes[i] {
				b.heads[a.Head.State] = a.Head
			}
		}
		tx.done <- err
	}
}

// make down stops a system's gateways together, so their closing rounds
// run at once, over one Redis, one ledger and the one key they share.
// Each of five gateways has stored (and signed) heads of a size of its
// own, the last the final heads, none anchored yet. Every closing round
// ends with the final heads anchored and logs its heads anchored, though
// each block commits the smallest heads first: the gateways whose head of
// the final size is refused as stored (the last gateway's) take that head
// at once, so all five anchor the same heads. Before, they anchored only
// their own smaller heads, each block's commit made the others' anchors
// lose, and after three lost races the gateways holding the largest heads
// gave up: the ledger kept the third gateway's heads, and every gateway
// warned (heads left unanchored, or the closing anchor failed). Retried
// until the bound instead, the ledger got the final heads a block a
// gateway later, but the four refused still warned of heads unanchored.
// The ledger gets one anchor a gateway, all in one block: the first
// commits, the other four are read conflicts, after which the anchored
// heads cover all they hold (an anchor a size, or one sent again past
// that, would send more). Each of the four reads each state's anchored
// head once before its anchor (the take-over's read is the one its
// anchor builds on; it read it again, 2 × 2 reads instead of 2), the
// fifth once a state (it had read none), and each loser once more after its
// conflict; each of the four logs one line naming the heads it took
// (it logged one a state), and exactly one gateway says its own anchor
// committed them.
func TestConcurrentClosingRoundsAnchorTheFinalHeads(t *testing.T) {
	const gateways = 5
	srv, rdb, key, fake := signerSetup(t)
	ledger := &blockLedger{fakeLedger: fake, live: gateways}
	clock := newStillClock()
	logs := make([]strings.Builder, gateways)
	gws := make([]*Log, gateways)
	for i := range gws {
		// A millisecond apart: no two gateways sign a head byte for byte.
		ahead := time.Duration(i) * time.Millisecond
		now := func() time.Time { return clock.now().Add(ahead) }
		gws[i] = New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: now}, slog.New(slog.NewTextHandler(&logs[i], nil)))
	}
	for _, g := range gws { // gateway i stores the heads of i+1 votes of each state
		clock.advance(time.Second)
		for _, st := range testElection.States {
			appendVotes(t, rdb, st, 1)
			if err := g.sign(context.Background(), "e1", st); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock.advance(time.Second)

	var wg sync.WaitGroup
	for _, g := range gws {
		wg.Go(func() {
			defer ledger.leave()
			g.closingRound(context.Background(), fixedElections{})
		})
	}
	wg.Wait()
	for _, st := range testElection.States {
		final, err := votequeue.GetHead(context.Background(), rdb, st)
		if err != nil {
			t.Fatal(err)
		}
		if got := fake.head(st); got.Size != gateways || got.Root != final.Root {
			t.Errorf("anchored %s head of size %d after the closing rounds; want the final head of %d (root %s)", st, got.Size, gateways, final.Root)
		}
	}
	states := int64(len(testElection.States))
	if n := ledger.sent.Load(); n != gateways {
		t.Errorf("the closing rounds sent %d anchors; want %d (one commit, %d read conflicts)", n, gateways, gateways-1)
	}
	if n, want := ledger.reads.Load(), (gateways-1)*states+states+(gateways-1)*states; n != want {
		t.Errorf("the closing rounds read %d anchored heads; want %d (the take-overs', the fifth gateway's, the losers' after their conflicts)", n, want)
	}
	committed := 0
	for i := range logs {
		log := logs[i].String()
		if says := `"intake log: closing heads anchored" states=2 anchored=`; !strings.Contains(log, says) {
			t.Errorf("gateway %d's log does not say %s:\n%s", i, says, log)
		}
		if strings.Contains(log, `anchored="[CA NY]"`) {
			committed++
		}
		took, says := strings.Count(log, "took the stored head"), `took the stored heads refused to this gateway and not anchored, to anchor them" states="[CA NY]"`
		if i == gateways-1 && took != 0 || i < gateways-1 && (took != 1 || !strings.Contains(log, says)) {
			t.Errorf("gateway %d logs %d take-overs; want one saying %s, none by the last (its heads stored):\n%s", i, took, says, log)
		}
	}
	if committed != 1 {
		t.Errorf("%d gateways say their closing anchor committed the heads; want 1", committed)
	}
}
