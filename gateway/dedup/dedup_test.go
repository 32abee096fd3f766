package dedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// fakeLedger is a NullifierLedger over a set, counting its calls.
type fakeLedger struct {
	mu    sync.Mutex
	used  map[string]bool
	err   error
	calls atomic.Int64
}

func (f *fakeLedger) NullifierUsed(_ context.Context, state, n string) (bool, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used[state+"/"+n], f.err
}

func (f *fakeLedger) mark(state, n string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.used == nil {
		f.used = map[string]bool{}
	}
	f.used[state+"/"+n] = true
}

type fixture struct {
	srv    *redistest.Server
	rdb    redis.UniversalClient
	d      *Deduper
	ledger *fakeLedger
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	srv := redistest.Start(t)
	f := &fixture{srv: srv, rdb: srv.Client(), ledger: &fakeLedger{}}
	f.d = New(srv.ClientAs(redisserver.UserGateway), f.ledger, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(f.d.Close)
	return f
}

// enroll puts raw nullifiers on a state's roll (laid out in 16 shards
// unless the deduper laid it out first).
func (f *fixture) enroll(t testing.TB, state string, raws ...[]byte) {
	t.Helper()
	ctx := context.Background()
	roll, err := votequeue.EnsureRoll(ctx, f.rdb, state, 4)
	if err != nil {
		t.Fatal(err)
	}
	pipe := f.rdb.Pipeline()
	votequeue.Enroll(ctx, pipe, roll, raws)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// rollStatus says whether a raw nullifier is on a state's roll and voted.
func (f *fixture) rollStatus(t testing.TB, state string, raw []byte) (onRoll, voted bool) {
	t.Helper()
	ctx := context.Background()
	roll, ok, err := votequeue.GetRoll(ctx, f.rdb, state)
	if !ok || err != nil {
		t.Fatalf("roll layout of %s: %v, %v", state, ok, err)
	}
	onRoll, voted, err = votequeue.RollStatus(ctx, f.rdb, roll, raw)
	if err != nil {
		t.Fatal(err)
	}
	return onRoll, voted
}

// unvote puts a raw nullifier back on a state's roll as not voted, as a
// roll reloaded into a Redis that lost its data does.
func (f *fixture) unvote(t testing.TB, state string, raw []byte) {
	t.Helper()
	ctx := context.Background()
	roll, _, err := votequeue.GetRoll(ctx, f.rdb, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.HSet(ctx, roll.Key(raw), string(raw), votequeue.NotVoted).Err(); err != nil {
		t.Fatal(err)
	}
}

// voter returns a fresh nullifier, put on the roll of state if eligible.
func (f *fixture) voter(t testing.TB, state string, eligible bool) string {
	t.Helper()
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	if eligible {
		f.enroll(t, state, raw[:])
	}
	return hex.EncodeToString(raw[:])
}

func attempt(t testing.TB, state, nullifier string) Attempt {
	t.Helper()
	id, err := ballot.NewVoteID()
	if err != nil {
		t.Fatal(err)
	}
	return Attempt{
		Vote:      ballot.Vote{ID: id, State: state, Nullifier: nullifier, Contest: "race", Choice: "alice", CastAt: time.Now().UnixMilli()},
		RequestID: "req-1",
	}
}

// accepted puts a new voter on the roll of state and has its first vote
// accepted.
func (f *fixture) accepted(t *testing.T, state string) (string, Attempt, Result) {
	t.Helper()
	n := f.voter(t, state, true)
	a := attempt(t, state, n)
	res, err := f.d.Accept(context.Background(), a)
	if err != nil || res.Outcome != Accepted {
		t.Fatalf("first attempt: %+v, %v; want accepted", res, err)
	}
	return n, a, res
}

func TestAcceptThenDuplicate(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	n, a, res := f.accepted(t, "CA")
	msgs, err := f.rdb.XRange(ctx, votequeue.StreamKey("CA"), "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].ID != res.EntryID {
		t.Fatalf("stream: %v, %v; want one entry %s", msgs, err, res.EntryID)
	}
	got, err := votequeue.Decode(msgs[0].Values)
	if err != nil || got != a.Vote {
		t.Fatalf("decoded entry %+v, %v; want %+v", got, err, a.Vote)
	}
	raw, _ := hex.DecodeString(n)
	roll, _, err := votequeue.GetRoll(ctx, f.rdb, "CA")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := votequeue.AcceptedVote(ctx, f.rdb, roll, n); err != nil || id != a.Vote.ID {
		t.Fatalf("the roll records vote %q, %v; want vote id %s", id, err, a.Vote.ID)
	}
	if on, voted := f.rollStatus(t, "CA", raw); !on || !voted {
		t.Fatalf("the nullifier is on the roll %v, voted %v; want marked voted", on, voted)
	}
	var repeats []Attempt
	for want := int64(1); want <= 2; want++ {
		repeats = append(repeats, attempt(t, "CA", n))
		repeats[len(repeats)-1].Vote.Choice = "bob-" + strconv.FormatInt(want, 10)
		res, err = f.d.Accept(ctx, repeats[len(repeats)-1])
		if err != nil || res.Outcome != Duplicate || res.Attempts != want {
			t.Fatalf("repeat attempt: %+v, %v; want duplicate with attempts %d", res, err, want)
		}
	}
	if l := f.rdb.XLen(ctx, votequeue.StreamKey("CA")).Val(); l != 1 {
		t.Fatalf("stream length %d after duplicates; want 1", l)
	}
	assertReview(t, f.rdb, "CA", "duplicate", repeats...)
	if c := f.ledger.calls.Load(); c != 0 {
		t.Fatalf("ledger asked %d times; the roll must answer without it", c)
	}
}

// TestOneVotePerVoterAndContest: the same voter (one voter key) is on the
// roll once per contest; a vote in each contest is accepted, a second vote
// in a contest already voted in is refused, by Redis alone.
func TestOneVotePerVoterAndContest(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	key := ballot.VoterKey([]byte("secret"), "e1", "voter-1", "cred-1")
	contests := []string{"L2025-001", "L2025-002"}
	nulls := map[string]string{}
	for _, contest := range contests {
		raw := ballot.NullifierOf(key, contest)
		f.enroll(t, "CA", raw[:])
		nulls[contest] = ballot.HashHex(raw)
	}
	in := func(contest, choice string) Attempt {
		a := attempt(t, "CA", nulls[contest])
		a.Vote.Contest, a.Vote.Choice = contest, choice
		return a
	}
	for _, contest := range contests {
		if res, err := f.d.Accept(ctx, in(contest, "oui")); err != nil || res.Outcome != Accepted {
			t.Fatalf("first vote in %s: %+v, %v; want accepted", contest, res, err)
		}
	}
	if res, err := f.d.Accept(ctx, in("L2025-001", "non")); err != nil || res.Outcome != Duplicate || res.Attempts != 1 {
		t.Fatalf("second vote in L2025-001: %+v, %v; want duplicate", res, err)
	}
	msgs, err := f.rdb.XRange(ctx, votequeue.StreamKey("CA"), "-", "+").Result()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("stream: %d entries, %v; want one per contest", len(msgs), err)
	}
	for i, m := range msgs {
		v, err := votequeue.Decode(m.Values)
		if err != nil || v.Contest != contests[i] || v.Nullifier != nulls[contests[i]] || v.Choice != "oui" {
			t.Fatalf("entry %d: %+v, %v; want the vote in %s", i, v, err, contests[i])
		}
	}
	if c := f.ledger.calls.Load(); c != 0 {
		t.Fatalf("ledger asked %d times; Redis must answer alone", c)
	}
}

func TestNotEligible(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	f.voter(t, "CA", true) // the roll is not empty
	refused := []Attempt{attempt(t, "CA", f.voter(t, "CA", false)), attempt(t, "CA", f.voter(t, "NY", true))}
	refused[1].Vote.Contest, refused[1].RequestID = "a-longer-contest-name", "req-2"
	res, err := f.d.Accept(ctx, refused[0])
	if err != nil || res.Outcome != NotEligible {
		t.Fatalf("got %+v, %v; want not eligible", res, err)
	}
	// On the roll of another state is not on this one's.
	res, err = f.d.Accept(ctx, refused[1])
	if err != nil || res.Outcome != NotEligible {
		t.Fatalf("other state's voter: %+v, %v; want not eligible", res, err)
	}
	assertReview(t, f.rdb, "CA", "not_eligible", refused...)
	if l := intResult(t, f.rdb.XLen(ctx, votequeue.StreamKey("CA"))); l != 0 {
		t.Fatalf("stream length %d; want 0", l)
	}
}

// intResult is cmd's answer; a failed command fails the test, where its
// zero would pass for "nothing there".
func intResult(t *testing.T, cmd *redis.IntCmd) int64 {
	t.Helper()
	n, err := cmd.Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assertReview checks that the review stream of state holds exactly the
// attempts want under reason, in order, each with its request id and its
// vote's fields.
func assertReview(t *testing.T, rdb redis.UniversalClient, state, reason string, want ...Attempt) {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), votequeue.ReviewKey(state), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []Attempt
	for _, m := range msgs {
		if m.Values["reason"] != reason {
			continue
		}
		rid, _ := m.Values["request_id"].(string)
		delete(m.Values, "reason")
		delete(m.Values, "request_id")
		v, err := votequeue.Decode(m.Values)
		if err != nil {
			t.Fatalf("review entry %v: %v", m.Values, err)
		}
		got = append(got, Attempt{Vote: v, RequestID: rid})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("review stream has %q entries %+v; want %+v", reason, got, want)
	}
}

// saturate stores a tiny Bloom shape for state and sets all its bits, so
// every nullifier tests "maybe seen".
func saturate(t *testing.T, f *fixture, state string) {
	t.Helper()
	ctx := context.Background()
	if _, err := EnsureParams(ctx, f.rdb, state, bloom.Params{Bits: 64, Hashes: 2}); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.Set(ctx, votequeue.BloomKey(state), string(make([]byte, 8)), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.BitOpNot(ctx, votequeue.BloomKey(state), votequeue.BloomKey(state)).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestBloomFalsePositiveIsAccepted(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	saturate(t, f, "CA")
	n := f.voter(t, "CA", true)
	res, err := f.d.Accept(ctx, attempt(t, "CA", n))
	if err != nil || res.Outcome != Accepted || !res.BloomMaybe {
		t.Fatalf("got %+v, %v; want accepted after the exact check", res, err)
	}
	// Now the roll answers without the ledger.
	calls := f.ledger.calls.Load()
	res, err = f.d.Accept(ctx, attempt(t, "CA", n))
	if err != nil || res.Outcome != Duplicate || res.Attempts != 1 || f.ledger.calls.Load() != calls {
		t.Fatalf("second: %+v, %v, ledger calls %d->%d; want duplicate from the roll", res, err, calls, f.ledger.calls.Load())
	}
}

// A committed voter's re-send is a duplicate answered from Redis alone:
// the batcher's acknowledgement keeps the voted record.
func TestCommittedVoterResendNeedsNoLedger(t *testing.T) {
	f := newFixture(t, Config{})
	n, _, res := f.accepted(t, "CA")
	f.ledger.mark("CA", n)
	commit(t, f.rdb, "CA", res.EntryID)
	f.resends(t, "CA", n, 3)
	if c := f.ledger.calls.Load(); c != 0 {
		t.Fatalf("ledger asked %d times for a committed voter's re-sends; want 0", c)
	}
}

// resends sends count re-sends of the voter with nullifier n, one after
// another, each of which must be a duplicate counting attempts 1 to count,
// answered without a Bloom filter maybe.
func (f *fixture) resends(t *testing.T, state, n string, count int64) {
	t.Helper()
	for want := int64(1); want <= count; want++ {
		res, err := f.d.Accept(context.Background(), attempt(t, state, n))
		if err != nil || res.Outcome != Duplicate || res.BloomMaybe || res.Attempts != want {
			t.Fatalf("re-send %d: %+v, %v; want duplicate with attempts %d, no Bloom maybe", want, res, err, want)
		}
	}
}

// commit does what the batcher does once a vote is on the ledger.
func commit(t *testing.T, rdb redis.UniversalClient, state, entryID string) {
	t.Helper()
	ctx := context.Background()
	streams, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{votequeue.StreamKey(state), "0"}, Block: -1}).Result()
	if err != nil || len(streams) != 1 || !slices.ContainsFunc(streams[0].Messages, func(m redis.XMessage) bool { return m.ID == entryID }) {
		t.Fatalf("read %s: %v, %v; want entry %s", votequeue.StreamKey(state), streams, err, entryID)
	}
	if err := rdb.Set(ctx, "lease:{"+state+"}", "me", 0).Err(); err != nil {
		t.Fatal(err)
	}
	fence := votequeue.Fence{LeaseKey: "lease:{" + state + "}", Lease: "me", JournalKey: "journal:{" + state + "}", JournalField: "1"}
	if err := votequeue.Ack(ctx, rdb, state, fence, "", []string{entryID}); err != nil {
		t.Fatal(err)
	}
	if l := intResult(t, rdb.XLen(ctx, votequeue.StreamKey(state))); l != 0 {
		t.Fatalf("stream holds %d entries after the ack", l)
	}
}

// A Redis that lost its data, whose filter was rebuilt from the ledger
// (roll rebuild-bloom) before the roll was loaded again, holds a committed
// voter as not voted: the rebuilt filter sends the re-send to the ledger,
// which finds the nullifier used, and the voter is marked voted again; a
// voter the ledger does not hold is accepted without asking it.
func TestLedgerDuplicateAfterRollReload(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	n, _, _ := f.accepted(t, "CA")
	f.ledger.mark("CA", n)
	raw, _ := hex.DecodeString(n)
	roll, _, err := votequeue.GetRoll(ctx, f.rdb, "CA")
	if err != nil {
		t.Fatal(err)
	}
	f.rdb.HDel(ctx, roll.Key(raw), string(raw)) // the roll lost
	if st, err := f.d.Rebuild(ctx, "CA", sliceSource{"CA": {n}}, nil); err != nil || st.MarkedVoted != 0 {
		t.Fatalf("rebuild: %+v, %v; want nothing marked (the voter is not on the roll)", st, err)
	}
	f.enroll(t, "CA", raw) // the roll loaded again
	res, err := f.d.Accept(ctx, attempt(t, "CA", n))
	if err != nil || res.Outcome != Duplicate || !res.BloomMaybe || res.Attempts != 1 {
		t.Fatalf("got %+v, %v; want duplicate found on the ledger", res, err)
	}
	calls := f.ledger.calls.Load()
	res, err = f.d.Accept(ctx, attempt(t, "CA", n))
	if err != nil || res.Outcome != Duplicate || res.BloomMaybe || f.ledger.calls.Load() != calls {
		t.Fatalf("again: %+v, %v; want a duplicate from the roll, the ledger not asked", res, err)
	}
	res, err = f.d.Accept(ctx, attempt(t, "CA", f.voter(t, "CA", true)))
	if err != nil || res.Outcome != Accepted || res.BloomMaybe || f.ledger.calls.Load() != calls {
		t.Fatalf("a new voter: %+v, %v; want accepted, the ledger not asked", res, err)
	}
}

func TestLedgerErrorIsReported(t *testing.T) {
	f := newFixture(t, Config{})
	saturate(t, f, "CA")
	f.ledger.err = errors.New("peer down")
	_, err := f.d.Accept(context.Background(), attempt(t, "CA", f.voter(t, "CA", true)))
	if !errors.Is(err, ErrLedger) {
		t.Fatalf("err = %v; want ErrLedger", err)
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	f := newFixture(t, Config{CallTimeout: 300 * time.Millisecond})
	n := f.voter(t, "CA", true)
	if err := f.rdb.Shutdown(context.Background()).Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Logf("shutdown: %v", err)
	}
	res, err := f.d.Accept(context.Background(), attempt(t, "CA", n))
	if err == nil {
		t.Fatalf("got %+v with Redis down; want an error", res)
	}
}

func TestConcurrentSameVoterAcceptedOnce(t *testing.T) {
	f := newFixture(t, Config{})
	n := f.voter(t, "CA", true)
	const tries = 1000
	var accepted, dups atomic.Int64
	var wg sync.WaitGroup
	for range tries {
		wg.Go(func() {
			res, err := f.d.Accept(context.Background(), attempt(t, "CA", n))
			switch {
			case err != nil:
				t.Error(err)
			case res.Outcome == Accepted:
				accepted.Add(1)
			case res.Outcome == Duplicate:
				dups.Add(1)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != 1 || dups.Load() != tries-1 {
		t.Fatalf("accepted %d, duplicates %d; want 1 and %d", accepted.Load(), dups.Load(), tries-1)
	}
	if got := f.rdb.HGet(context.Background(), votequeue.DupesKey("CA"), n).Val(); got != "999" {
		t.Fatalf("duplicate counter %s; want 999", got)
	}
}

// Concurrent voters of several states are all accepted, each vote in its
// own state's stream, also after Redis forgot the script (NOSCRIPT: loaded
// again, nothing lost).
func TestConcurrentDistinctVotersAllAccepted(t *testing.T) {
	f := newFixture(t, Config{MaxBatch: 16})
	states := []string{"CA", "NY", "TX"}
	const voters = 300
	wave := func() {
		nulls := make([]string, voters)
		for i := range nulls {
			nulls[i] = f.voter(t, states[i%len(states)], true)
		}
		var wg sync.WaitGroup
		for i, n := range nulls {
			wg.Go(func() {
				res, err := f.d.Accept(context.Background(), attempt(t, states[i%len(states)], n))
				if err != nil || res.Outcome != Accepted {
					t.Errorf("voter %d: %+v, %v", i, res, err)
				}
			})
		}
		wg.Wait()
	}
	ctx := context.Background()
	wave()
	if err := f.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wave()
	for _, st := range states {
		msgs, err := f.rdb.XRange(ctx, votequeue.StreamKey(st), "-", "+").Result()
		if err != nil || len(msgs) != 2*voters/len(states) {
			t.Fatalf("%s stream holds %d votes, %v; want %d", st, len(msgs), err, 2*voters/len(states))
		}
		for _, m := range msgs {
			if v, err := votequeue.Decode(m.Values); err != nil || v.State != st {
				t.Fatalf("%s stream entry %s: %+v, %v", st, m.ID, v, err)
			}
		}
	}
}

// TestOneCallManyStates has one script call (as a single server's lane
// makes it) take the votes of two states interleaved: each vote gets its
// own answer, in the batch's order, and lands in its own state's stream
// and log.
func TestOneCallManyStates(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	for _, st := range []string{"CA", "NY"} {
		if _, err := f.d.shape(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	ca := f.voter(t, "CA", true)
	batch := []*pending{
		{attempt: attempt(t, "CA", ca)},
		{attempt: attempt(t, "NY", f.voter(t, "NY", false))},
		{attempt: attempt(t, "NY", f.voter(t, "NY", true))},
		{attempt: attempt(t, "CA", ca)},
		{attempt: attempt(t, "CA", f.voter(t, "CA", true))},
	}
	res, err := f.d.call(ctx, "submit", batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome  Outcome
		logIndex int64
	}{{Accepted, 0}, {NotEligible, 0}, {Accepted, 0}, {Duplicate, 0}, {Accepted, 1}}
	for i, w := range want {
		if res[i].Outcome != w.outcome || (w.outcome == Accepted && res[i].LogIndex != w.logIndex) {
			t.Errorf("vote %d (%s): %+v; want %v at log index %d", i, batch[i].attempt.Vote.State, res[i], w.outcome, w.logIndex)
		}
	}
	for _, st := range []string{"CA", "NY"} {
		msgs, err := f.rdb.XRange(ctx, votequeue.StreamKey(st), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range msgs {
			v, err := votequeue.Decode(m.Values)
			if err != nil || v.State != st {
				t.Fatalf("%s stream entry %s: %+v, %v", st, m.ID, v, err)
			}
			ids = append(ids, v.ID)
		}
		var wantIDs []string
		for i, pe := range batch {
			if pe.attempt.Vote.State == st && res[i].Outcome == Accepted {
				wantIDs = append(wantIDs, pe.attempt.Vote.ID)
			}
		}
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("%s stream holds %v; want %v", st, ids, wantIDs)
		}
		if n, err := f.rdb.LLen(ctx, votequeue.LogKey(st)).Result(); err != nil || n != int64(len(wantIDs)) {
			t.Errorf("%s log holds %d entries, %v; want %d", st, n, err, len(wantIDs))
		}
	}
}

func TestAcceptAfterClose(t *testing.T) {
	f := newFixture(t, Config{})
	n := f.voter(t, "CA", true)
	if _, err := f.d.Accept(context.Background(), attempt(t, "CA", n)); err != nil {
		t.Fatal(err)
	}
	f.d.Close()
	if _, err := f.d.Accept(context.Background(), attempt(t, "CA", n)); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v; want ErrClosed", err)
	}
}

// QueueAge takes the batcher's reported lag, else the stream's first entry.
func TestQueueAge(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	if age, err := f.d.QueueAge(ctx, "CA"); err != nil || age != 0 {
		t.Fatalf("empty queue: age %v, %v; want 0", age, err)
	}
	f.accepted(t, "CA")
	time.Sleep(20 * time.Millisecond)
	if age, err := f.d.QueueAge(ctx, "CA"); err != nil || age < 10*time.Millisecond || age > time.Minute {
		t.Fatalf("one queued vote: age %v, %v; want its time since acceptance", age, err)
	}
	votequeue.SetLag(ctx, f.rdb, "CA", 42*time.Second, time.Minute)
	if age, err := f.d.QueueAge(ctx, "CA"); err != nil || age != 42*time.Second {
		t.Fatalf("with a reported lag: age %v, %v; want 42s", age, err)
	}
}

// Every accepted vote, and only accepted votes, becomes the entry of the
// state's intake log at the index its result names, in the same call, and
// Config.Logged is told of it; with the log off nothing is appended.
func TestAcceptedVotesAreLogged(t *testing.T) {
	var mu sync.Mutex
	observed := map[int64]string{} // what Config.Logged was told
	f := newFixture(t, Config{MaxBatch: 8, Logged: func(state string, index int64, leaf [32]byte) {
		mu.Lock()
		defer mu.Unlock()
		observed[index] = state + "/" + ballot.HashHex(leaf)
	}})
	ctx := context.Background()
	const voters = 60
	votes := make([]ballot.Vote, voters)
	indices := make([]int64, voters)
	var wg sync.WaitGroup
	for i := range voters {
		a := attempt(t, "CA", f.voter(t, "CA", true))
		votes[i] = a.Vote
		wg.Go(func() {
			res, err := f.d.Accept(ctx, a)
			if err != nil || res.Outcome != Accepted {
				t.Errorf("voter %d: %+v, %v", i, res, err)
			}
			indices[i] = res.LogIndex
		})
	}
	wg.Wait()
	// Refused attempts append nothing.
	if res, err := f.d.Accept(ctx, attempt(t, "CA", votes[0].Nullifier)); err != nil || res.Outcome != Duplicate {
		t.Fatalf("repeat: %+v, %v", res, err)
	}
	if res, err := f.d.Accept(ctx, attempt(t, "CA", f.voter(t, "CA", false))); err != nil || res.Outcome != NotEligible {
		t.Fatalf("ineligible: %+v, %v", res, err)
	}
	entries, err := f.rdb.LRange(ctx, votequeue.LogKey("CA"), 0, -1).Result()
	if err != nil || len(entries) != voters {
		t.Fatalf("log holds %d entries, %v; want %d", len(entries), err, voters)
	}
	seen := map[int64]bool{}
	for i, v := range votes {
		idx := indices[i]
		if idx < 0 || idx >= voters || seen[idx] {
			t.Fatalf("vote %d got log index %d (seen before: %v)", i, idx, seen[idx])
		}
		seen[idx] = true
		got, err := votequeue.DecodeLogEntry("CA", []byte(entries[idx]))
		if err != nil || got != v {
			t.Fatalf("log entry %d = %+v, %v; want vote %d %+v", idx, got, err, i, v)
		}
		if leaf, _ := got.Leaf(); observed[idx] != "CA/"+ballot.HashHex(leaf) {
			t.Fatalf("Logged was told %q at index %d; the log holds the vote with leaf %x", observed[idx], idx, leaf)
		}
	}

	off := newFixture(t, Config{NoLog: true})
	_, _, res := off.accepted(t, "CA")
	if exists := intResult(t, off.rdb.Exists(ctx, votequeue.LogKey("CA"))); res.LogIndex != -1 || exists != 0 {
		t.Fatalf("log off: index %d, log key exists %d", res.LogIndex, exists)
	}
}

// TestOnlyIntakeTouchesTheQueue: asking a partition's shape, as the roll
// tools do (Params, Rebuild) under a Redis user that may not touch the
// queue, leaves the vote stream alone; the first vote creates the stream,
// holding that vote, and no consumer group (batchers read with XREAD).
func TestOnlyIntakeTouchesTheQueue(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	if _, err := f.d.Params(ctx, "CA"); err != nil {
		t.Fatal(err)
	}
	if n := intResult(t, f.rdb.Exists(ctx, votequeue.StreamKey("CA"))); n != 0 {
		t.Fatalf("Params created %s", votequeue.StreamKey("CA"))
	}
	res, err := f.d.Accept(ctx, attempt(t, "CA", f.voter(t, "CA", true)))
	if err != nil || res.Outcome != Accepted {
		t.Fatalf("Accept = %+v, %v", res, err)
	}
	msgs, err := f.rdb.XRange(ctx, votequeue.StreamKey("CA"), "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].ID != res.EntryID {
		t.Fatalf("%s after a vote: %v, %v; want the one entry %s", votequeue.StreamKey("CA"), msgs, err, res.EntryID)
	}
	groups, err := f.rdb.XInfoGroups(ctx, votequeue.StreamKey("CA")).Result()
	if err != nil || len(groups) != 0 {
		t.Fatalf("consumer groups on %s after a vote: %+v, %v; want none", votequeue.StreamKey("CA"), groups, err)
	}
}

// TestIntakeSetsNoBloomBits: an accepted vote sets no Bloom bit (no filter
// exists until one is rebuilt from the ledger), and after kill -9 and a
// restart from the AOF its re-send is still a duplicate (the roll's mark is
// durable) and a new voter is still accepted.
func TestIntakeSetsNoBloomBits(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	voter := f.voter(t, "CA", true)
	if res, err := f.d.Accept(ctx, attempt(t, "CA", voter)); err != nil || res.Outcome != Accepted {
		t.Fatalf("Accept = %+v, %v", res, err)
	}
	admin := f.srv.Client()
	if n := intResult(t, admin.Exists(ctx, votequeue.BloomKey("CA"))); n != 0 {
		t.Fatal("an accepted vote made a Bloom filter")
	}
	f.srv.Kill()
	f.srv.Restart()
	if res, err := f.d.Accept(ctx, attempt(t, "CA", voter)); err != nil || res.Outcome != Duplicate {
		t.Fatalf("re-send after the restart = %+v, %v; want a duplicate from the roll", res, err)
	}
	if res, err := f.d.Accept(ctx, attempt(t, "CA", f.voter(t, "CA", true))); err != nil || res.Outcome != Accepted {
		t.Fatalf("a new voter after the restart = %+v, %v; want accepted", res, err)
	}
}

// TestCallAboveLuaStackLimit: one call of 9,000 votes (--max-batch above
// the 8,000 values Lua's unpack can take at once) accepts them all, and
// the intake log holds each one, at the index its answer gives, as the
// stream does.
func TestCallAboveLuaStackLimit(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	const n = 9000
	raws := make([][]byte, n)
	batch := make([]*pending, n)
	for i := range raws {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		raws[i] = raw
		batch[i] = &pending{attempt: attempt(t, "CA", hex.EncodeToString(raw))}
	}
	if _, err := f.d.shape(ctx, "CA"); err != nil {
		t.Fatal(err)
	}
	f.enroll(t, "CA", raws...)
	res, err := f.d.call(ctx, "submit", batch)
	if err != nil {
		t.Fatalf("call of %d votes: %v", n, err)
	}
	log, err := f.rdb.LRange(ctx, votequeue.LogKey("CA"), 0, -1).Result()
	if err != nil || len(log) != n {
		t.Fatalf("intake log holds %d entries, %v; want %d", len(log), err, n)
	}
	for i, r := range res {
		if r.Outcome != Accepted || r.LogIndex != int64(i) {
			t.Fatalf("vote %d: %+v; want accepted at log index %d", i, r, i)
		}
		if want, err := votequeue.AppendLogEntry(nil, batch[i].attempt.Vote); err != nil || log[i] != string(want) {
			t.Fatalf("log entry %d is not vote %d's (%v)", i, i, err)
		}
	}
	if l := f.rdb.XLen(ctx, votequeue.StreamKey("CA")).Val(); l != n {
		t.Fatalf("stream length %d; want %d", l, n)
	}
}

// TestMaxAcceptTime pins the bound a stop waits for an Accept in flight:
// at the defaults 17.004 s on a single Redis without replicas (2 s for the
// state's shape, a call for room in the lane, 4 ms of linger, 5 s for the
// ledger's exact check, four calls of 2 s: the two a queued vote may wait
// through, the vote's, the exact check's), 72.504 s over a Redis Cluster
// or with replicas (calls of 10 s failover wait, 100 ms, 2 s and 1 s, the
// wait for room one of them); and it follows the settings. It was
// 48.304 s over a Cluster, counting one call before the vote's (not the
// second, TestQueuedVoteWaitsTwoCalls) and 2 s for room (a failover's
// wait, TestRoomWaitRidesOutAFailover), and 15.004 s on a single Redis.
func TestMaxAcceptTime(t *testing.T) {
	changed := Config{CallTimeout: time.Second, ReplicaTimeout: 500 * time.Millisecond, FailoverWait: 3 * time.Second, Linger: -1, LedgerTimeout: 2 * time.Second}
	for _, c := range []struct {
		name    string
		cfg     Config
		cluster bool
		want    time.Duration
	}{
		{"defaults, single", Config{}, false, 17004 * time.Millisecond},
		{"defaults, cluster", Config{}, true, 72504 * time.Millisecond},
		{"defaults, single with replicas", Config{Replicas: 1}, false, 72504 * time.Millisecond},
		{"changed, single", changed, false, 8 * time.Second},  // 1 + 0 + 2 + 5×1
		{"changed, cluster", changed, true, 26 * time.Second}, // 1 + 0 + 2 + 5×4.6
	} {
		if got := c.cfg.MaxAcceptTime(c.cluster); got != c.want {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
	}
}

// stuckLedger is a NullifierLedger that answers only when its context
// ends, noting each question on asked.
type stuckLedger struct{ asked chan struct{} }

func (l stuckLedger) NullifierUsed(ctx context.Context, _, _ string) (bool, error) {
	l.asked <- struct{}{}
	<-ctx.Done()
	return false, ctx.Err()
}

// TestExactCheckIsBounded: a ledger that does not answer fails a vote's
// exact check with ErrLedger (503 ledger_unavailable) after LedgerTimeout
// however long the request's context lasts, so MaxAcceptTime covers it;
// Abort ends the check at once with ErrClosed (nothing stored). The check
// was bounded by the request's context alone.
func TestExactCheckIsBounded(t *testing.T) {
	f := newFixture(t, Config{})
	saturate(t, f, "CA")
	ledger := stuckLedger{asked: make(chan struct{}, 1)}
	d := New(f.srv.ClientAs(redisserver.UserGateway), ledger, Config{LedgerTimeout: 50 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := d.Accept(ctx, attempt(t, "CA", f.voter(t, "CA", true)))
	if took := time.Since(start); !errors.Is(err, ErrLedger) || took > 5*time.Second {
		t.Fatalf("exact check on a silent ledger: %v after %v; want ErrLedger after ~50ms", err, took)
	}
	<-ledger.asked

	d = New(f.srv.ClientAs(redisserver.UserGateway), ledger, Config{LedgerTimeout: time.Minute}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(d.Close)
	accepted, a := make(chan error, 1), attempt(t, "CA", f.voter(t, "CA", true))
	go func() {
		_, err := d.Accept(ctx, a)
		accepted <- err
	}()
	<-ledger.asked
	d.Abort()
	if err := <-accepted; !errors.Is(err, ErrClosed) {
		t.Fatalf("exact check as Abort came: %v; want ErrClosed", err)
	}
}
