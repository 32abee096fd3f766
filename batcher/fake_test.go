package batcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/votechain/votechain/ballot"
)

// fault is what the fake ledger does with one submission.
type fault int

const (
	commitOK      fault = iota
	failSubmit          // endorsement or ordering refused: Submit errs
	commitInvalid       // ordered but committed invalid (an MVCC conflict)
	loseTx              // accepted, then lost by its orderer: never commits
	holdTx              // accepted; commits when the test calls release
	loseStatus          // committed, but its commit status never arrives (the peer's gateway lost it)
	lateStatus          // committed in a block at once; its commit status arrives when the test calls deliver
)

// fakeLedger is an in-memory ledger with the chaincode's CommitBatch and
// CommitBatches rules that matter to the batcher: a batch id commits once
// (a resubmission is a no-op naming the first transaction), a nullifier
// counts once, and a transaction carries at most one batch per state.
type fakeLedger struct {
	// plan picks the fault for the n-th submission (1-based) of a batch; nil:
	// commit. A transaction carrying several batches takes the first fault
	// other than commitOK of its batches.
	plan func(batch ballot.Batch, n int) fault
	// latency delays every commit (a block time), in real time.
	latency time.Duration
	// txClock, if set, stamps each transaction at its submission, as the
	// ledger client stamps a proposal with the batcher's clock, and a vote
	// cast after its transaction's time is rejected (ballot.RejectCastAfterTx).
	txClock Clock
	// peerClock, if set, is the endorsing peers' clock: a submission whose
	// time (txClock's, else the system clock's) is more than
	// ballot.MaxClockSkew from it is refused as the chaincode refuses it,
	// wrapping ballot.ErrClockSkew as fabricclient does.
	peerClock Clock

	mu         sync.Mutex
	txs        int
	height     uint64
	records    map[string]ballot.BatchRecord // by batch id
	blockOf    map[string]uint64             // by tx id
	nullifiers map[string]string             // state/nullifier -> vote id
	submits    map[string]int                // by batch id
	held       []*fakeTx
	late       []*fakeTx // committed, their status not yet delivered
	blockOfErr error     // if set, BlockOfTx fails with it (the peer not answering)
	subs       []chan uint64
	shared     [][]string // the batch ids of every transaction carrying several
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{records: map[string]ballot.BatchRecord{}, blockOf: map[string]uint64{},
		nullifiers: map[string]string{}, submits: map[string]int{}}
}

type fakeTx struct {
	id      string
	at      time.Time // its timestamp (txClock); zero: none checked
	batches []ballot.Batch
	done    chan struct{}
	res     []ballot.Committed
	err     error
}

func (t *fakeTx) TransactionID() string { return t.id }

func (t *fakeTx) Wait(ctx context.Context) ([]ballot.Committed, error) {
	select {
	case <-t.done:
		return t.res, t.err
	case <-ctx.Done():
		return nil, fmt.Errorf("commit status of %s: %w", t.id, ctx.Err())
	}
}

func (f *fakeLedger) Submit(ctx context.Context, bs []ballot.Batch) (Tx, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	states := map[string]bool{}
	ids := make([]string, len(bs))
	for i, b := range bs {
		if states[b.State] {
			return nil, fmt.Errorf("fake: two batches of %s in one transaction", b.State)
		}
		states[b.State], ids[i] = true, b.ID()
	}
	if len(bs) > 1 {
		f.shared = append(f.shared, ids)
	}
	what := commitOK
	for _, b := range bs {
		f.submits[b.ID()]++
		if f.plan != nil && what == commitOK {
			what = f.plan(b, f.submits[b.ID()])
		}
	}
	if what == failSubmit {
		return nil, errors.New("fake: endorsement failed")
	}
	if err := f.clockRefusal("submit"); err != nil {
		return nil, err
	}
	f.txs++
	tx := &fakeTx{id: fmt.Sprintf("tx%d", f.txs), batches: bs, done: make(chan struct{})}
	if f.txClock != nil {
		tx.at = f.txClock.Now()
	}
	switch what {
	case commitOK:
		if f.latency > 0 {
			time.AfterFunc(f.latency, func() {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.commitLocked(tx)
			})
			break
		}
		f.commitLocked(tx)
	case commitInvalid:
		f.invalidLocked(tx)
	case holdTx:
		f.held = append(f.held, tx)
	case loseStatus:
		f.commitLocked(&fakeTx{id: tx.id, batches: bs, done: make(chan struct{})})
	case lateStatus:
		committed := &fakeTx{id: tx.id, batches: bs, done: make(chan struct{})}
		f.commitLocked(committed)
		tx.res = committed.res
		f.late = append(f.late, tx)
	}
	return tx, nil
}

// commitLocked applies CommitBatch's rules to each batch of tx in a new block.
func (f *fakeLedger) commitLocked(tx *fakeTx) {
	block := f.blockLocked(tx.id)
	tx.res = make([]ballot.Committed, len(tx.batches))
	for i, b := range tx.batches {
		tx.res[i] = ballot.Committed{Record: f.recordLocked(tx, b), TxID: tx.id, Block: block}
	}
	close(tx.done)
}

// recordLocked returns the record of batch b, committing it in transaction
// tx unless it is committed.
func (f *fakeLedger) recordLocked(tx *fakeTx, b ballot.Batch) ballot.BatchRecord {
	rec, ok := f.records[b.ID()]
	if !ok {
		rec = ballot.BatchRecord{State: b.State, Seq: b.Seq, Root: b.Root,
			Votes: len(b.Votes), Tallies: ballot.Tally{}, Rejected: []int{}, TxID: tx.id}
		for i, v := range b.Votes {
			if !tx.at.IsZero() && v.CastAt > tx.at.UnixMilli() {
				rec.Reject(i, ballot.RejectCastAfterTx)
				continue
			}
			k := v.State + "/" + v.Nullifier
			if _, used := f.nullifiers[k]; used {
				rec.Reject(i, ballot.RejectDuplicate)
				continue
			}
			f.nullifiers[k] = v.ID
			rec.Tallies.Add(v.Contest, v.Choice, 1)
			rec.Counted++
		}
		f.records[b.ID()] = rec
	}
	return rec
}

// blockLocked cuts a block holding txID and tells the block subscribers.
func (f *fakeLedger) blockLocked(txID string) uint64 {
	n := f.height
	f.height++
	if txID != "" {
		f.blockOf[txID] = n
	}
	for _, s := range f.subs {
		select {
		case s <- n:
		default: // a slow subscriber misses a number; the next one carries the height
		}
	}
	return n
}

// mine cuts k blocks of other transactions.
func (f *fakeLedger) mine(k int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range k {
		f.blockLocked("")
	}
}

// release commits every held transaction.
func (f *fakeLedger) release() { f.endHeld(f.commitLocked) }

// failHeld makes every held transaction fail validation (an MVCC
// conflict), in a block.
func (f *fakeLedger) failHeld() { f.endHeld(f.invalidLocked) }

// endHeld ends every held transaction with end (called with f.mu held).
func (f *fakeLedger) endHeld(end func(*fakeTx)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tx := range f.held {
		end(tx)
	}
	f.held = nil
}

// invalidLocked commits tx invalid (an MVCC conflict) in a new block.
func (f *fakeLedger) invalidLocked(tx *fakeTx) {
	tx.err = &ballot.CommitError{TxID: tx.id, Code: "MVCC_READ_CONFLICT"}
	f.blockLocked(tx.id)
	close(tx.done)
}

// releaseNext commits the held transaction submitted first.
func (f *fakeLedger) releaseNext() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commitLocked(f.held[0])
	f.held = f.held[1:]
}

// deliver sends the commit status of every committed transaction whose
// status was held back (lateStatus).
func (f *fakeLedger) deliver() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tx := range f.late {
		close(tx.done)
	}
	f.late = nil
}

// commitDirect commits a batch as an earlier owner did, returning its transaction.
func (f *fakeLedger) commitDirect(b ballot.Batch) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txs++
	tx := &fakeTx{id: fmt.Sprintf("tx%d", f.txs), batches: []ballot.Batch{b}, done: make(chan struct{})}
	f.commitLocked(tx)
	return tx.id
}

func (f *fakeLedger) Batch(_ context.Context, state string, seq uint64) (ballot.BatchRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[ballot.Batch{State: state, Seq: seq}.ID()]
	if !ok {
		return ballot.BatchRecord{}, fmt.Errorf("fake: batch %s/%d: %w", state, seq, ballot.ErrNotFound)
	}
	return rec, nil
}

func (f *fakeLedger) BlockOfTx(_ context.Context, txID string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blockOfErr != nil {
		return 0, f.blockOfErr
	}
	n, ok := f.blockOf[txID]
	if !ok {
		return 0, fmt.Errorf("fake: no transaction %s: %w", txID, ballot.ErrNotFound)
	}
	return n, nil
}

// clockRefusal is the peers' refusal of a call stamped by the batcher's
// clock (txClock's, else the system clock's) more than ballot.MaxClockSkew
// from peerClock, wrapping ballot.ErrClockSkew as fabricclient does; nil
// without a peerClock or within the bound.
func (f *fakeLedger) clockRefusal(what string) error {
	if f.peerClock == nil {
		return nil
	}
	at := time.Now()
	if f.txClock != nil {
		at = f.txClock.Now()
	}
	if skew := f.peerClock.Now().Sub(at).Abs(); skew > ballot.MaxClockSkew {
		return fmt.Errorf("fake: %s: %w: proposal timestamp %s is %s from this peer's clock", what, ballot.ErrClockSkew, at.Format(time.RFC3339Nano), skew)
	}
	return nil
}

// BlockNumbers is refused, as the peers refuse the block stream's chain-info
// check, while the batcher's clock is off (clockRefusal).
func (f *fakeLedger) BlockNumbers(ctx context.Context) (<-chan uint64, error) {
	if err := f.clockRefusal("block stream"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan uint64, 64)
	f.subs = append(f.subs, ch)
	return ch, nil
}

// counted returns the vote id counted for each nullifier.
func (f *fakeLedger) counted() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.nullifiers))
	for k, v := range f.nullifiers {
		out[k] = v
	}
	return out
}

func (f *fakeLedger) submissions(batchID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.submits[batchID]
}

// fakeClock is a Clock that moves only when the test advances it. Its
// timers have a time.Timer's semantics on its time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeTimer // the timers set and not fired
}

// fakeTimer is a fakeClock's Timer. Its channel holds a firing until it is
// received or the timer is reset or stopped.
type fakeTimer struct {
	clk *fakeClock
	at  time.Time
	ch  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, ch: make(chan time.Time, 1)}
	c.setLocked(t, c.now.Add(d))
	return t.ch
}

func (c *fakeClock) TimerAt(at time.Time) Timer {
	t := &fakeTimer{clk: c, ch: make(chan time.Time, 1)}
	t.ResetAt(at)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) ResetAt(at time.Time) {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.clk.stopLocked(t)
	t.clk.setLocked(t, at)
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.clk.stopLocked(t)
}

// setLocked sets stopped timer t for at, firing it at once for a time not
// after the clock's.
func (c *fakeClock) setLocked(t *fakeTimer, at time.Time) {
	if !at.After(c.now) {
		t.ch <- c.now
		return
	}
	t.at = at
	c.waiters = append(c.waiters, t)
}

// stopLocked stops t and drops a firing not received.
func (c *fakeClock) stopLocked(t *fakeTimer) {
	c.waiters = slices.DeleteFunc(c.waiters, func(w *fakeTimer) bool { return w == t })
	select {
	case <-t.ch:
	default:
	}
}

// Advance moves the time on and fires the timers that fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waiters = slices.DeleteFunc(c.waiters, func(w *fakeTimer) bool {
		if w.at.After(c.now) {
			return false
		}
		w.ch <- c.now
		return true
	})
}

// waiting is how many timers are set and not fired.
func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// offsetTimer is a Timer of a clock that runs at the system clock's pace
// from another time (now): a time.Timer for the wait from its reading.
type offsetTimer struct {
	*time.Timer
	now func() time.Time
}

func newOffsetTimer(now func() time.Time, at time.Time) offsetTimer {
	return offsetTimer{time.NewTimer(at.Sub(now())), now}
}

func (t offsetTimer) C() <-chan time.Time  { return t.Timer.C }
func (t offsetTimer) ResetAt(at time.Time) { t.Reset(at.Sub(t.now())) }
func (t offsetTimer) Stop()                { t.Timer.Stop() }
