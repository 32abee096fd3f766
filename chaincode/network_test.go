package chaincode_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/chaincode"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

var (
	netStates     = []string{"CA", "TX", "NY", "FL", "WA"}
	netCandidates = []string{"alice", "bob", "carol"}
)

// netQuestion is the second contest of netElection, a yes/no question
// beside nettest.Race.
const netQuestion = "Q-1"

// netElection is the network tests' election: nettest.Race between
// netCandidates and the question netQuestion.
func netElection() ballot.Election {
	e := nettest.Election(netStates, netCandidates)
	e.Contests = append(e.Contests, ballot.Contest{ID: netQuestion, Title: "Question 1", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}})
	return e
}

const (
	concurrentBatches = 20  // batches submitted at once, over all states
	votesPerBatch     = 250 // votes in each of them
)

// ledgerRun drives the ballot contract on a real network and keeps a model
// of what its results must be: every check of the ledger's results compares
// them with the model.
type ledgerRun struct {
	ledger *fabricclient.Ballot
	want   ballot.Results       // the results the ledger must report
	seq    map[string]uint64    // last batch seq used per state
	voters int                  // voters given a nullifier so far
	byID   map[string]committed // committed batches by id
}

// committed is a batch, the outcome of its first commit, and the event the
// test expects of it.
type committed struct {
	batch ballot.Batch
	ballot.Committed
	want ballot.BatchEvent
}

func newLedgerRun(ledger *fabricclient.Ballot, e ballot.Election) *ledgerRun {
	return &ledgerRun{ledger: ledger, seq: map[string]uint64{}, byID: map[string]committed{},
		want: ballot.Results{ElectionID: e.ID, Status: e.Status, National: ballot.Tally{}, States: map[string]ballot.StateResult{}}}
}

// ctxFor returns a context that bounds one part of the test.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// voterKey returns the voter key of a new voter.
func (r *ledgerRun) voterKey() [32]byte {
	r.voters++
	return ballot.VoterKey([]byte("network-test"), "network-test", fmt.Sprint("voter-", r.voters), "cred")
}

// nullifier returns a new voter's nullifier for nettest.Race.
func (r *ledgerRun) nullifier() string {
	return ballot.HashHex(ballot.NullifierOf(r.voterKey(), nettest.Race))
}

// vote returns a vote of state in nettest.Race for the candidate numbered i
// with nullifier.
func (r *ledgerRun) vote(t *testing.T, state string, i int, nullifier string) ballot.Vote {
	return r.voteIn(t, state, nettest.Race, netCandidates[i%len(netCandidates)], nullifier)
}

// voteIn returns a vote of state in contest for choice with nullifier.
func (r *ledgerRun) voteIn(t *testing.T, state, contest, choice, nullifier string) ballot.Vote {
	id, err := ballot.NewVoteID()
	if err != nil {
		t.Fatal(err)
	}
	return ballot.Vote{ID: id, State: state, Contest: contest, Nullifier: nullifier, Choice: choice, CastAt: time.Now().UnixMilli()}
}

// batch builds the next batch of state from votes.
func (r *ledgerRun) batch(t *testing.T, state string, votes []ballot.Vote) ballot.Batch {
	r.seq[state]++
	b, err := ballot.BuildBatch(state, r.seq[state], votes)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freshBatch builds the next batch of state with n votes of new voters.
func (r *ledgerRun) freshBatch(t *testing.T, state string, n int) ballot.Batch {
	votes := make([]ballot.Vote, n)
	for i := range votes {
		votes[i] = r.vote(t, state, i, r.nullifier())
	}
	return r.batch(t, state, votes)
}

// commit submits b, which must commit VALID with the votes of rejects
// (index → reason) rejected, and returns it for the model. A submission
// whose fate is unknown (fabricclient.FateUnknown) is resolved as the
// batcher resolves it, from the ledger (settle).
func (r *ledgerRun) commit(t *testing.T, ctx context.Context, b ballot.Batch, rejects map[int]string) (committed, error) {
	c, err := r.ledger.CommitBatch(ctx, b)
	if fabricclient.FateUnknown(err) {
		c, err = r.settle(t, ctx, b, err)
	}
	if err != nil {
		return committed{}, err
	}
	want := expectedEvent(b, rejects)
	if err := checkRecord(c, b, want); err != nil {
		return committed{}, err
	}
	return committed{batch: b, Committed: c, want: want}, nil
}

// settleWait bounds how long settle waits for a batch of unknown fate to
// appear on the ledger; settlePoll is how often it looks meanwhile.
const (
	settleWait = 20 * time.Second
	settlePoll = 250 * time.Millisecond
)

// settle resolves the submission of b that failed with unknown, an error of
// unknown fate: under SmartBFT an orderer back from a stall answers
// "request already processed" for a transaction the others ordered, and
// the gateway counts it as a refusal. It reads b from the ledger for up to
// settleWait: found, b was committed by the failed transaction, which the
// record must name. Not found, b is submitted once more, which writes
// nothing if the failed transaction committed meanwhile (the stored record
// comes back naming it: ResubmitIsNoOp). A record naming another
// transaction, or any failure of the second submission, is an error; the
// record's root and counts are checkRecord's to judge.
func (r *ledgerRun) settle(t *testing.T, ctx context.Context, b ballot.Batch, unknown error) (ballot.Committed, error) {
	tx := unknownTxID(unknown)
	t.Logf("batch %s: tx %s of unknown fate (%v); reading the ledger", b.ID(), tx, unknown)
	rec, err := r.awaitBatch(ctx, b)
	if err == nil {
		t.Logf("batch %s: on the ledger after all, committed in tx %s", b.ID(), rec.TxID)
		return r.committedIn(ctx, rec, tx)
	}
	t.Logf("batch %s: not on the ledger after %v (%v); submitting it once more", b.ID(), settleWait, err)
	c, err := r.ledger.CommitBatch(ctx, b)
	if err != nil {
		return ballot.Committed{}, fmt.Errorf("batch %s resubmitted after tx %s failed (%v): %w", b.ID(), tx, unknown, err)
	}
	if c.Record.TxID != c.TxID { // committed before the resubmission
		return r.committedIn(ctx, c.Record, tx)
	}
	return c, nil
}

// unknownTxID is the transaction an error of unknown fate names.
func unknownTxID(err error) string {
	var subErr *client.SubmitError
	var statusErr *client.CommitStatusError
	switch {
	case errors.As(err, &subErr):
		return subErr.TransactionID
	case errors.As(err, &statusErr):
		return statusErr.TransactionID
	}
	return ""
}

// awaitBatch reads b's record from the ledger until it is there, for at
// most settleWait; the last read's error if it never is.
func (r *ledgerRun) awaitBatch(ctx context.Context, b ballot.Batch) (ballot.BatchRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	for {
		rec, err := r.ledger.Batch(ctx, b.State, b.Seq)
		if err == nil {
			return rec, nil
		}
		select {
		case <-ctx.Done():
			return ballot.BatchRecord{}, err
		case <-time.After(settlePoll):
		}
	}
}

// committedIn is the commit of rec by transaction tx, which rec must name,
// as CommitBatch would have returned it: tx's block from the ledger.
func (r *ledgerRun) committedIn(ctx context.Context, rec ballot.BatchRecord, tx string) (ballot.Committed, error) {
	if rec.TxID != tx {
		return ballot.Committed{}, fmt.Errorf("batch %s/%d committed in tx %s, not in the submitted %s", rec.State, rec.Seq, rec.TxID, tx)
	}
	block, err := r.ledger.BlockOfTx(ctx, tx)
	if err != nil {
		return ballot.Committed{}, fmt.Errorf("batch %s/%d committed in tx %s: %w", rec.State, rec.Seq, tx, err)
	}
	return ballot.Committed{Record: rec, TxID: tx, Block: block}, nil
}

// expectedEvent is what committing b must count: every vote except those
// of rejects (index → reason).
func expectedEvent(b ballot.Batch, rejects map[int]string) ballot.BatchEvent {
	ev := ballot.BatchEvent{State: b.State, Seq: b.Seq, Root: b.Root, Rejected: []int{}, Reasons: []string{}, Tallies: ballot.Tally{}}
	for i, v := range b.Votes {
		if reason, ok := rejects[i]; ok {
			ev.Rejected, ev.Reasons = append(ev.Rejected, i), append(ev.Reasons, reason)
			continue
		}
		ev.Tallies.Add(v.Contest, v.Choice, 1)
		ev.Counted++
	}
	return ev
}

// record adds committed batches to the model, as the test expects them
// (not as the ledger recorded them).
func (r *ledgerRun) record(cs ...committed) {
	for _, c := range cs {
		r.byID[c.batch.ID()] = c
		r.want.Apply(c.want)
	}
}

// committedWith returns a committed batch that has (dup) or has not
// rejected duplicates.
func (r *ledgerRun) committedWith(dup bool) (committed, bool) {
	for _, c := range r.byID {
		if (len(c.Record.Rejected) > 0) == dup {
			return c, true
		}
	}
	return committed{}, false
}

// checkRecord checks the ledger's record of b against the expected event:
// its root, the votes counted and rejected, and tallies of the counted votes.
func checkRecord(c ballot.Committed, b ballot.Batch, want ballot.BatchEvent) error {
	rec := c.Record
	switch {
	case rec.State != want.State || rec.Seq != want.Seq || rec.Root != want.Root:
		return fmt.Errorf("batch %s recorded as %s/%d root %s", b.ID(), rec.State, rec.Seq, rec.Root)
	case rec.Votes != len(b.Votes) || rec.Counted != want.Counted || !slices.Equal(rec.Rejected, want.Rejected) ||
		!slices.Equal(rec.Reasons, want.Reasons):
		return fmt.Errorf("batch %s: %d votes, %d counted, rejected %v for %v; want %d, %d, %v for %v",
			b.ID(), rec.Votes, rec.Counted, rec.Rejected, rec.Reasons, len(b.Votes), want.Counted, want.Rejected, want.Reasons)
	case !rec.Tallies.Equal(want.Tallies):
		return fmt.Errorf("batch %s tallies %v, want %v", b.ID(), rec.Tallies, want.Tallies)
	case rec.TxID != c.TxID:
		return fmt.Errorf("batch %s recorded tx %s, committed in %s", b.ID(), rec.TxID, c.TxID)
	}
	return nil
}

// checkResults compares the ledger's results with the model.
func (r *ledgerRun) checkResults(t *testing.T, ctx context.Context) {
	t.Helper()
	got, err := r.ledger.Results(ctx)
	if err != nil {
		t.Fatalf("results: %v", err)
	}
	if got.ElectionID != r.want.ElectionID || got.Status != r.want.Status ||
		got.Counted != r.want.Counted || got.Rejected != r.want.Rejected || !got.National.Equal(r.want.National) {
		t.Fatalf("results %s/%s counted %d rejected %d national %v; want %s/%s %d %d %v",
			got.ElectionID, got.Status, got.Counted, got.Rejected, got.National,
			r.want.ElectionID, r.want.Status, r.want.Counted, r.want.Rejected, r.want.National)
	}
	for _, s := range netStates {
		g, w := got.States[s], r.want.States[s]
		if g.Batches != w.Batches || g.Counted != w.Counted || g.Rejected != w.Rejected || !g.Tallies.Equal(w.Tallies) {
			t.Fatalf("results of %s: %+v, want %+v", s, g, w)
		}
	}
}

// TestBallotOnNetwork checks the ballot contract on a real network: endorsed
// by both organisations' peers, ordered by the network's consensus (SmartBFT by default), committed by the peers.
func TestBallotOnNetwork(t *testing.T) {
	n := nettest.Start(t)
	e := netElection()
	batcher := dialComponent(t, n, network.Batcher)
	if cn := batcherName(t, n); !slices.Equal(e.Batchers, []string{cn}) {
		t.Fatalf("nettest.Election names batchers %q; the batcher's certificate is %q", e.Batchers, cn)
	}
	nettest.SetupElection(t, n, e)
	// SetupElection returns once both endorsing peers hold the record.
	if got, err := nettest.Dial(t, n, "Observers").Ballot().Election(ctxFor(t)); err != nil || got.ID != e.ID {
		t.Fatalf("the Observers' peer right after set-up: %+v, %v; want election %s", got, err, e.ID)
	}
	r := newLedgerRun(batcher.Ballot(), e)

	t.Run("PeersBatch", func(t *testing.T) { peersBatch(t, n) })
	// Ordered: each part builds on the ledger the parts before it left.
	t.Run("ConcurrentBatches", r.concurrentBatches)
	t.Run("DuplicateAcrossBatches", r.duplicateAcrossBatches)
	t.Run("OneVotePerVoterAndContest", r.oneVotePerVoterAndContest)
	t.Run("ForgedBatchesRefused", r.forgedBatchesRefused)
	t.Run("ResubmitIsNoOp", r.resubmitIsNoOp)
	t.Run("RefusedVotesDoNotPoisonBatch", r.refusedVotesDoNotPoisonBatch)
	t.Run("SharedTransaction", r.sharedTransaction)
	t.Run("VoteBytes", func(t *testing.T) { r.voteBytes(t, batcher) })
	t.Run("BackdatedProposalNotEndorsed", func(t *testing.T) { r.backdatedProposal(t, n) })
	t.Run("OnlyBatchersCommit", func(t *testing.T) { r.onlyBatchersCommit(t, n) })
}

// dialComponent connects as component c through its own profile, which
// must hold its identity and no other.
func dialComponent(t *testing.T, n *localnet.Network, c network.Component) *fabricclient.Conn {
	t.Helper()
	profile, err := network.LoadProfile(n.Layout().ComponentProfile(c.Name))
	if err != nil {
		t.Fatal(err)
	}
	for org, op := range profile.Orgs {
		want := 0
		if org == c.Org {
			want = 1
		}
		if _, own := op.Users[c.User]; len(op.Users) != want || (want == 1 && !own) {
			t.Fatalf("%s profile holds %s identities %v; want only its own %s %s", c.Name, org, slices.Collect(maps.Keys(op.Users)), c.Org, c.User)
		}
	}
	conn, err := fabricclient.Dial(t.Context(), profile, c.Org, fabricclient.WithUser(c.User))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// batcherName is the batcher identity's certificate name, for the election record.
func batcherName(t *testing.T, n *localnet.Network) string {
	profile, err := network.LoadProfile(n.Layout().ComponentProfile(network.Batcher.Name))
	if err != nil {
		t.Fatal(err)
	}
	cn, err := network.CommonName(profile.Orgs[network.Batcher.Org].Users[network.Batcher.User].Cert)
	if err != nil {
		t.Fatal(err)
	}
	return cn
}

// onlyBatchersCommit: the election names the batcher's identity, so the
// gateway's (another Commission client) is refused CommitBatch and the
// batcher's is accepted; every private key file is 0600.
func (r *ledgerRun) onlyBatchersCommit(t *testing.T, n *localnet.Network) {
	ctx := ctxFor(t)
	b := r.freshBatch(t, "TX", 3)
	_, err := dialComponent(t, n, network.Gateway).Ballot().CommitBatch(ctx, b)
	if err == nil || !strings.Contains(err.Error(), "is not a batcher") {
		t.Fatalf("CommitBatch from the gateway's identity: %v; want refused, not a batcher", err)
	}
	c, err := r.commit(t, ctx, b, nil)
	if err != nil {
		t.Fatalf("CommitBatch from the batcher's identity: %v", err)
	}
	r.record(c)
	r.checkResults(t, ctx)
	keys := 0
	err = filepath.WalkDir(n.Layout().Crypto(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Base(filepath.Dir(path)) != "keystore" && !strings.HasSuffix(path, ".key")) {
			return err
		}
		keys++
		if info, err := d.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("key file %s: mode %v (%v); want 0600", path, info.Mode().Perm(), err)
		}
		return nil
	})
	if err != nil || keys == 0 {
		t.Fatalf("walked %d key files: %v", keys, err)
	}
}

// peersBatch asks each organisation's chaincode, through its own peer, what
// the peer advertised: batched reads and writes must be on, with the sizes
// the project's core.yaml sets (a peer without them keeps batching off).
func peersBatch(t *testing.T, n *localnet.Network) {
	ctx := ctxFor(t)
	want := chaincode.Batching{Connected: true, WriteBatch: true, MaxWriteBatch: network.MaxChaincodeBatchKeys,
		GetMultipleKeys: true, MaxGetMultipleKeys: network.MaxChaincodeBatchKeys}
	for _, org := range network.PeerOrgs() {
		probe := nettest.Dial(t, n, org.Name, fabricclient.WithUser("Admin")).Contract("probe")
		out, err := probe.EvaluateWithContext(ctx, "Batching", client.WithEndorsingOrganizations(org.MSPID))
		var got chaincode.Batching
		if err == nil {
			err = json.Unmarshal(out, &got)
		}
		if err != nil || got != want {
			t.Errorf("%s peer advertised %s (%v); want %+v", org.Name, out, err, want)
		}
	}
	// The probe is for admins only.
	_, err := nettest.Dial(t, n, "Commission").Contract("probe").EvaluateWithContext(ctx, "Batching")
	if err == nil || !strings.Contains(err.Error(), "not an admin") {
		t.Errorf("probe by a client: %v; want refused, not an admin", err)
	}
}

// concurrentBatches submits batches of every state at once: all commit VALID
// (no MVCC conflict between them), several in one block, and the results
// are the sum of their tallies.
func (r *ledgerRun) concurrentBatches(t *testing.T) {
	ctx := ctxFor(t)
	batches := make([]ballot.Batch, concurrentBatches)
	for i := range batches {
		batches[i] = r.freshBatch(t, netStates[i%len(netStates)], votesPerBatch)
	}
	out := make([]committed, len(batches))
	errs := make([]error, len(batches))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = r.commit(t, ctx, b, nil)
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent batches (every commit must be VALID): %v", err)
	}
	r.record(out...)

	blocks := map[uint64][]string{}
	for _, c := range out {
		blocks[c.Block] = append(blocks[c.Block], c.batch.ID())
		if got, err := r.ledger.BlockOfTx(ctx, c.TxID); err != nil || got != c.Block {
			t.Errorf("batch %s: block of tx %s from the ledger = %d, %v; commit status said %d", c.batch.ID(), c.TxID, got, err, c.Block)
		}
	}
	shared := 0
	for _, ids := range blocks {
		if len(ids) > 1 {
			shared++
		}
	}
	t.Logf("%d batches of %d votes committed in %d block(s), %d holding more than one batch, in %.2f s: %.0f votes/s",
		len(out), votesPerBatch, len(blocks), shared, elapsed.Seconds(), float64(len(out)*votesPerBatch)/elapsed.Seconds())
	if shared == 0 {
		t.Errorf("no two batches share a block: %v", blocks)
	}
	r.checkResults(t, ctx)
}

// duplicateAcrossBatches commits a batch holding a vote whose nullifier an
// earlier batch used: that vote is rejected, the earlier one stays counted.
func (r *ledgerRun) duplicateAcrossBatches(t *testing.T) {
	ctx := ctxFor(t)
	first := r.freshBatch(t, "CA", 10)
	c1, err := r.commit(t, ctx, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.record(c1)

	const dupAt = 3
	votes := make([]ballot.Vote, 8)
	for i := range votes {
		null := r.nullifier()
		if i == dupAt {
			null = first.Votes[5].Nullifier // a second vote of the same voter
		}
		votes[i] = r.vote(t, "CA", i+1, null)
	}
	c2, err := r.commit(t, ctx, r.batch(t, "CA", votes), map[int]string{dupAt: ballot.RejectDuplicate})
	if err != nil {
		t.Fatal(err)
	}
	r.record(c2)

	loc, err := r.ledger.LocateNullifier(ctx, "CA", first.Votes[5].Nullifier)
	want := ballot.NullifierRecord{State: "CA", Contest: nettest.Race, Seq: first.Seq, Index: 5, VoteID: first.Votes[5].ID}
	if err != nil || loc != want {
		t.Errorf("duplicated nullifier located at %+v, %v; want the first vote %+v", loc, err, want)
	}
	r.checkResults(t, ctx)
}

// forgedBatchesRefused submits batches whose claimed root or tallies do not
// match their votes: endorsement refuses them and nothing is written.
func (r *ledgerRun) forgedBatchesRefused(t *testing.T) {
	ctx := ctxFor(t)
	for _, tc := range []struct {
		name   string
		forge  func(*ballot.Batch)
		reason string
	}{
		{"root", func(b *ballot.Batch) { b.Root = ballot.HashHex([32]byte{1}) }, "root does not match"},
		{"tally", func(b *ballot.Batch) { b.Tallies.Add(nettest.Race, netCandidates[0], 1) }, "tallies do not match"},
		{"tally moved", func(b *ballot.Batch) {
			b.Tallies.Add(nettest.Race, netCandidates[0], 1)
			b.Tallies[nettest.Race][netCandidates[1]]--
		}, "tallies do not match"},
		{"tally moved to another contest", func(b *ballot.Batch) {
			b.Tallies.Add(netQuestion, "yes", 1)
			b.Tallies[nettest.Race][netCandidates[1]]--
		}, "tallies do not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := r.freshBatch(t, "TX", 6)
			tc.forge(&b)
			_, err := r.ledger.CommitBatch(ctx, b)
			var endorse *client.EndorseError
			if !errors.As(err, &endorse) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("forged %s: got %v; want an endorse error saying %q", tc.name, err, tc.reason)
			}
			if rec, err := r.ledger.Batch(ctx, b.State, b.Seq); !errors.Is(err, ballot.ErrNotFound) {
				t.Errorf("forged batch %s on the ledger: %+v, %v; want not found", b.ID(), rec, err)
			}
			if loc, err := r.ledger.LocateNullifier(ctx, b.State, b.Votes[0].Nullifier); !errors.Is(err, ballot.ErrNotFound) {
				t.Errorf("nullifier of the forged batch used: %+v, %v; want not found", loc, err)
			}
		})
	}
	r.checkResults(t, ctx)
}

// resubmitIsNoOp re-submits committed batches: each succeeds in a new
// transaction returning the stored record, and the results do not change.
func (r *ledgerRun) resubmitIsNoOp(t *testing.T) {
	ctx := ctxFor(t)
	for _, dup := range []bool{false, true} { // a clean batch, one with a rejected duplicate
		prev, ok := r.committedWith(dup)
		if !ok {
			t.Fatalf("no batch with duplicates=%t was committed by an earlier part", dup)
		}
		id := prev.batch.ID()
		again, err := r.ledger.CommitBatch(ctx, prev.batch)
		if err != nil {
			t.Fatalf("resubmit %s: %v", id, err)
		}
		if !reflect.DeepEqual(again.Record, prev.Record) || again.TxID == prev.TxID {
			t.Errorf("resubmit %s in tx %s: record %+v; want the stored %+v", id, again.TxID, again.Record, prev.Record)
		}
		if stored, err := r.ledger.Batch(ctx, prev.batch.State, prev.batch.Seq); err != nil || !reflect.DeepEqual(stored, prev.Record) {
			t.Errorf("batch %s after resubmit: %+v, %v; want %+v", id, stored, err, prev.Record)
		}
	}
	r.checkResults(t, ctx)
}

// sharedTransaction commits the batches of three states in one CommitBatches
// transaction, one of them holding a duplicate of an earlier batch's voter:
// each is recorded as CommitBatch would record it, under the one
// transaction; the ledger's copy of the transaction gives each batch back,
// and the transaction's event lists them all. Submitting two of them again
// with a new batch commits only the new one.
func (r *ledgerRun) sharedTransaction(t *testing.T) {
	ctx := ctxFor(t)
	prev, ok := r.committedWith(false)
	if !ok {
		t.Fatal("no clean batch was committed by an earlier part")
	}
	var states []string
	for _, s := range netStates {
		if s != prev.batch.State && len(states) < 2 {
			states = append(states, s)
		}
	}
	dup := r.freshBatch(t, prev.batch.State, 2)
	dup.Votes[1] = r.vote(t, dup.State, 1, prev.batch.Votes[0].Nullifier)
	dup, err := ballot.BuildBatch(dup.State, dup.Seq, dup.Votes)
	if err != nil {
		t.Fatal(err)
	}
	bs := []ballot.Batch{dup, r.freshBatch(t, states[0], 3), r.freshBatch(t, states[1], 1)}
	rejects := []map[int]string{{1: ballot.RejectDuplicate}, nil, nil}
	p, err := r.ledger.SubmitBatches(ctx, bs)
	if err != nil {
		t.Fatal(err)
	}
	done, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(bs) {
		t.Fatalf("%d outcomes for %d batches", len(done), len(bs))
	}
	for i, b := range bs {
		want := expectedEvent(b, rejects[i])
		if err := checkRecord(done[i], b, want); err != nil {
			t.Fatal(err)
		}
		if done[i].TxID != p.TransactionID() {
			t.Fatalf("batch %s committed in %s, not the shared %s", b.ID(), done[i].TxID, p.TransactionID())
		}
		got, err := r.ledger.CommittedBatch(ctx, p.TransactionID(), b.State, b.Seq)
		if err != nil || got.Root != b.Root {
			t.Fatalf("CommittedBatch %s: root %s (%v), want %s", b.ID(), got.Root, err, b.Root)
		}
		r.record(committed{batch: b, Committed: done[i], want: want})
	}
	r.checkResults(t, ctx)
	evCtx, stop := context.WithCancel(ctx)
	defer stop()
	events, errs, err := r.ledger.BatchEvents(evCtx, ballot.Position{Block: done[0].Block})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.At.TxID != p.TransactionID() || len(ev.Events) != len(bs) || ev.Events[0].Counted != 1 || ev.Events[1].State != states[0] || ev.Events[2].Counted != 1 {
			t.Fatalf("first event from the shared transaction's block: %s %+v; want its three batches", ev.At.TxID, ev.Events)
		}
	case err := <-errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no event from the shared transaction's block")
	}

	// Again, with one new batch: only that one is written.
	extra := r.freshBatch(t, states[1], 2)
	p, err = r.ledger.SubmitBatches(ctx, []ballot.Batch{bs[0], bs[1], extra})
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again[0].Record, done[0].Record) || !reflect.DeepEqual(again[1].Record, done[1].Record) || again[2].Record.TxID != p.TransactionID() {
		t.Fatalf("resubmission with a new batch: %+v", again)
	}
	r.record(committed{batch: extra, Committed: again[2], want: expectedEvent(extra, nil)})
	r.checkResults(t, ctx)
}

// refusedVotesDoNotPoisonBatch commits a batch holding a vote cast before
// the window opened, one for a candidate not on the ballot and one in a
// contest not on it: each is recorded rejected with its reason, the rest
// counted, and the batch commits once (a resubmission changes nothing).
func (r *ledgerRun) refusedVotesDoNotPoisonBatch(t *testing.T) {
	ctx := ctxFor(t)
	e, err := r.ledger.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := r.freshBatch(t, "FL", 6)
	b.Votes[2].CastAt = e.OpensAt.Add(-time.Second).UnixMilli()
	b.Votes[4].Choice = "mallory"
	b.Votes[5].Contest = "senate"
	b, err = ballot.BuildBatch(b.State, b.Seq, b.Votes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.commit(t, ctx, b, map[int]string{2: ballot.RejectOutsideWindow, 4: ballot.RejectUnknownChoice, 5: ballot.RejectUnknownContest})
	if err != nil {
		t.Fatalf("a batch with refused votes: %v", err)
	}
	r.record(c)
	again, err := r.ledger.CommitBatch(ctx, b)
	if err != nil || !reflect.DeepEqual(again.Record, c.Record) {
		t.Errorf("resubmission: %+v, %v; want the stored record", again.Record, err)
	}
	if _, err := r.ledger.LocateNullifier(ctx, "FL", b.Votes[2].Nullifier); !errors.Is(err, ballot.ErrNotFound) {
		t.Errorf("the refused vote's nullifier: %v; want unused", err)
	}
	r.checkResults(t, ctx)
}

// oneVotePerVoterAndContest: a voter votes in both contests in one batch
// and both count; their second vote in either contest, in a later batch, is
// a duplicate; each nullifier record names its contest.
func (r *ledgerRun) oneVotePerVoterAndContest(t *testing.T) {
	ctx := ctxFor(t)
	key := r.voterKey()
	race, question := ballot.HashHex(ballot.NullifierOf(key, nettest.Race)), ballot.HashHex(ballot.NullifierOf(key, netQuestion))
	first := r.batch(t, "NY", []ballot.Vote{
		r.voteIn(t, "NY", nettest.Race, "carol", race), r.vote(t, "NY", 0, r.nullifier()), r.voteIn(t, "NY", netQuestion, "yes", question),
	})
	c, err := r.commit(t, ctx, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.record(c)
	second := r.batch(t, "NY", []ballot.Vote{
		r.voteIn(t, "NY", netQuestion, "no", question), r.voteIn(t, "NY", nettest.Race, "alice", race),
		r.voteIn(t, "NY", netQuestion, "no", ballot.HashHex(ballot.NullifierOf(r.voterKey(), netQuestion))),
	})
	c, err = r.commit(t, ctx, second, map[int]string{0: ballot.RejectDuplicate, 1: ballot.RejectDuplicate})
	if err != nil {
		t.Fatal(err)
	}
	r.record(c)
	for i, n := range map[int]string{0: race, 2: question} {
		loc, err := r.ledger.LocateNullifier(ctx, "NY", n)
		if want := (ballot.NullifierRecord{State: "NY", Contest: first.Votes[i].Contest, Seq: first.Seq, Index: i, VoteID: first.Votes[i].ID}); err != nil || loc != want {
			t.Errorf("nullifier %s: %+v, %v; want %+v", n, loc, err, want)
		}
	}
	r.checkResults(t, ctx)
}

// backdatedProposal signs CommitBatch proposals by hand with a chosen
// timestamp: 10 minutes in the past, neither organisation's chaincode
// endorses it (it is within the peers' own 15-minute window, so the refusal
// is the chaincode's); the same batch timestamped now commits.
func (r *ledgerRun) backdatedProposal(t *testing.T, n *localnet.Network) {
	ctx := ctxFor(t)
	profile, err := n.Profile()
	if err != nil {
		t.Fatal(err)
	}
	org, err := profile.Org("Commission")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(org.Users["User1"].Key)
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		t.Fatal(err)
	}
	conn := nettest.Dial(t, n, "Commission")
	b := r.freshBatch(t, "WA", 5)
	payload, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	propose := func(at time.Time) *client.Proposal {
		t.Helper()
		unsigned, err := conn.Contract("ballot").NewProposal("CommitBatch", client.WithBytesArguments(payload))
		if err != nil {
			t.Fatal(err)
		}
		data, err := unsigned.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		signed, err := retimeProposal(data, at, sign)
		if err != nil {
			t.Fatal(err)
		}
		p, err := conn.Gateway.NewSignedProposal(signed.bytes, signed.signature)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	_, err = propose(time.Now().Add(-10 * time.Minute)).EndorseWithContext(ctx)
	var endorse *client.EndorseError
	if !errors.As(err, &endorse) || !strings.Contains(err.Error(), "from this peer's clock") {
		t.Fatalf("backdated proposal: %v; want an endorse error from the chaincode's clock check", err)
	}
	if _, err := r.ledger.Batch(ctx, b.State, b.Seq); !errors.Is(err, ballot.ErrNotFound) {
		t.Fatalf("backdated batch on the ledger: %v", err)
	}

	tx, err := propose(time.Now()).EndorseWithContext(ctx)
	if err != nil {
		t.Fatalf("the same batch timestamped now (control): %v", err)
	}
	commit, err := tx.SubmitWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status, err := commit.StatusWithContext(ctx); err != nil || !status.Successful {
		t.Fatalf("control commit: %+v, %v", status, err)
	}
	rec, err := r.ledger.Batch(ctx, b.State, b.Seq)
	if err != nil {
		t.Fatal(err)
	}
	want := expectedEvent(b, nil)
	if err := checkRecord(ballot.Committed{Record: rec, TxID: tx.TransactionID()}, b, want); err != nil {
		t.Fatal(err)
	}
	r.record(committed{batch: b, Committed: ballot.Committed{Record: rec, TxID: tx.TransactionID()}, want: want})
	r.checkResults(t, ctx)
}

// signedProposal is a serialized gateway ProposedTransaction and the
// client's signature of its proposal.
type signedProposal struct{ bytes, signature []byte }

// retimeProposal sets the channel header timestamp of a serialized
// unsigned proposal to at and signs it, as the client would have.
func retimeProposal(data []byte, at time.Time, sign identity.Sign) (signedProposal, error) {
	var pt gateway.ProposedTransaction
	var prop peer.Proposal
	var hdr common.Header
	var ch common.ChannelHeader
	if err := proto.Unmarshal(data, &pt); err != nil {
		return signedProposal{}, err
	}
	if err := proto.Unmarshal(pt.GetProposal().GetProposalBytes(), &prop); err != nil {
		return signedProposal{}, err
	}
	if err := proto.Unmarshal(prop.GetHeader(), &hdr); err != nil {
		return signedProposal{}, err
	}
	if err := proto.Unmarshal(hdr.GetChannelHeader(), &ch); err != nil {
		return signedProposal{}, err
	}
	ch.Timestamp = timestamppb.New(at)
	var err error
	if hdr.ChannelHeader, err = proto.Marshal(&ch); err != nil {
		return signedProposal{}, err
	}
	if prop.Header, err = proto.Marshal(&hdr); err != nil {
		return signedProposal{}, err
	}
	if pt.Proposal.ProposalBytes, err = proto.Marshal(&prop); err != nil {
		return signedProposal{}, err
	}
	digest := sha256.Sum256(pt.Proposal.ProposalBytes)
	sig, err := sign(digest[:])
	if err != nil {
		return signedProposal{}, err
	}
	out, err := proto.Marshal(&pt)
	return signedProposal{out, sig}, err
}
