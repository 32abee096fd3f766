package batcher

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Ledger is what the batcher needs of the ledger. Package
// batcher/fabricledger adapts the Fabric client; the tests use an in-memory
// fake. An adapter may offer the election record too (ElectionSource): the
// batcher then does not hold a batch for the votes a closed or finalised
// election refuses whatever their commit time (the cast wait). A wrapper
// that embeds a Ledger does not offer it, whatever it wraps, so it turns
// that skip off (every vote ahead of the batcher's clock is waited for)
// unless it defines Election itself.
type Ledger interface {
	// Submit endorses one transaction carrying the batches (of distinct
	// states; one batch: CommitBatch, several: CommitBatches) and hands it
	// to ordering.
	Submit(ctx context.Context, bs []ballot.Batch) (Tx, error)
	// Batch returns the ledger's record of a committed batch, or an error
	// wrapping ballot.ErrNotFound if the batch is not committed.
	Batch(ctx context.Context, state string, seq uint64) (ballot.BatchRecord, error)
	// BlockOfTx returns the number of the block holding a transaction
	// (committed valid or not), or an error wrapping ballot.ErrNotFound if
	// no block the peer queried has committed holds it.
	BlockOfTx(ctx context.Context, txID string) (uint64, error)
	// BlockNumbers streams the number of every block committed from now on;
	// the channel closes when ctx ends or the stream breaks.
	BlockNumbers(ctx context.Context) (<-chan uint64, error)
}

// ElectionSource is what a Ledger offers to have the batcher read the
// election record (ballot.Election) for its cast wait; Election returns
// the record as the ledger's peer has it committed, or an error.
type ElectionSource interface {
	Election(ctx context.Context) (*ballot.Election, error)
}

// Tx is a submitted transaction. Submitting a batch that is already on the
// ledger commits a no-op (for that batch) whose ballot.Committed.Record
// names the transaction that committed the batch first.
type Tx interface {
	TransactionID() string
	// Wait returns each batch's outcome, in the order submitted, once the
	// transaction is committed; an error (a *ballot.CommitError if it was
	// committed invalid) or ctx ended first. A transaction an orderer lost
	// never commits: Wait then returns only when ctx ends.
	Wait(ctx context.Context) ([]ballot.Committed, error)
}

// RoundRobin returns a Ledger that submits through each of gateways in
// turn (safe for concurrent use: of n calls in a row, each gateway takes
// n/len(gateways) give or take one) and reads through home: Batch,
// BlockOfTx, BlockNumbers (the block stream the lost-transaction recovery
// counts) and Election, if home is an ElectionSource, never change peer. A Tx waits for its commit through the
// gateway that submitted it. A gateway whose Submit fails keeps its turns:
// the caller sees its error, and its retry takes a later turn.
// With no gateways, home submits too.
//
// The batcher uses it to spread its transactions over several peers'
// gateways (cmd/batcher --gateway-peers), home being its own organisation's
// peer: a gateway endorses, sends each transaction to the orderers and
// answers its commit status, and the one peer doing it for every
// transaction was the busiest node at 5,000 votes/s.
func RoundRobin(home Ledger, gateways ...Ledger) Ledger {
	if len(gateways) == 0 {
		return home
	}
	return &roundRobin{Ledger: home, gateways: gateways}
}

type roundRobin struct {
	Ledger   // home: the reads
	gateways []Ledger
	next     atomic.Uint64
}

func (r *roundRobin) Submit(ctx context.Context, bs []ballot.Batch) (Tx, error) {
	turn := (r.next.Add(1) - 1) % uint64(len(r.gateways))
	tx, err := r.gateways[turn].Submit(ctx, bs)
	if err != nil {
		return nil, err
	}
	return viaTx{Tx: tx, via: int(turn)}, nil
}

// Election reads the election record through home, if home offers it
// (ElectionSource), for the cast wait; otherwise it fails, and the batcher
// waits for every vote.
func (r *roundRobin) Election(ctx context.Context) (*ballot.Election, error) {
	if src, ok := r.Ledger.(ElectionSource); ok {
		return src.Election(ctx)
	}
	return nil, errors.New("batcher: the ledger offers no election record")
}

// viaTx is a transaction a RoundRobin submitted through its gateway number
// via (0 first): its commit status comes from that gateway's peer.
type viaTx struct {
	Tx
	via int
}

func (t viaTx) Gateway() int { return t.via }

// gatewayOf returns the number of the RoundRobin gateway whose peer answers
// tx's commit status, or 0 for a transaction submitted otherwise. Peers
// commit the same blocks at different times (seconds apart when one is
// busier), so the commit statuses of transactions submitted through
// different gateways do not arrive in the order of their blocks: the
// recovery policy compares a transaction only with those answered by the
// same gateway (progress).
func gatewayOf(tx Tx) int {
	if g, ok := tx.(interface{ Gateway() int }); ok {
		return g.Gateway()
	}
	return 0
}

// Clock is the batcher's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
	// TimerAt returns a timer that fires once the clock reaches at, at
	// once for a time not after the clock's. It is set for at itself, not
	// for a wait reckoned from an earlier reading of the clock, so a clock
	// that moved since at was decided does not make it fire later.
	TimerAt(at time.Time) Timer
}

// A Timer sends its clock's time on C once the clock reaches the time it
// was set for. As with a time.Timer since Go 1.23, no firing of an earlier
// setting is received after ResetAt or Stop returns, so a timer is reset
// without draining C (for the system clock this is the runtime's: it holds
// while go.mod says 1.23 or later and GODEBUG does not set
// asynctimerchan=1; a stale firing would only make cutLoop decide once
// more).
type Timer interface {
	C() <-chan time.Time
	// ResetAt sets the timer for at in place of any earlier setting, as
	// Clock.TimerAt does.
	ResetAt(at time.Time)
	// Stop stops the timer.
	Stop()
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (systemClock) TimerAt(at time.Time) Timer             { return systemTimer{time.NewTimer(time.Until(at))} }

// systemTimer is a time.Timer set for instants of the system clock.
type systemTimer struct{ *time.Timer }

func (t systemTimer) C() <-chan time.Time  { return t.Timer.C }
func (t systemTimer) ResetAt(at time.Time) { t.Reset(time.Until(at)) }
func (t systemTimer) Stop()                { t.Timer.Stop() }

// sleep waits d on clock or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	select {
	case <-clock.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
